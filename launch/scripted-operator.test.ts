import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import { SimRobot } from '../robot/sim/robot.js';
import type { RunUpdate } from './run-loop.js';
import { ScriptedOperator } from './scripted-operator.js';
import type { TeleopCommand } from './teleop.js';

/** What the operator asks of the run loop, recorded; it feeds the operator the loop's updates. */
class FakeLoop {
  interventionActive = false;
  readonly commands: TeleopCommand[] = [];
  readonly changes: { active: boolean; source: string }[] = [];
  private listener: ((update: RunUpdate) => void) | null = null;
  onUpdate(listener: (update: RunUpdate) => void): () => void {
    this.listener = listener;
    return () => (this.listener = null);
  }
  setIntervention(active: boolean, source: string): boolean {
    if (active === this.interventionActive) return false;
    this.interventionActive = active;
    this.changes.push({ active, source });
    this.listener?.({ type: 'intervention', active, source });
    return true;
  }
  teleop(command: TeleopCommand): boolean {
    if (!this.interventionActive) return false;
    this.commands.push(command);
    return true;
  }
  emit(update: RunUpdate): void {
    this.listener?.(update);
  }
  steps(episode: number, n: number): void {
    const state = { eePosition: [0.4, 0, 0.2] as [number, number, number], eeYaw: 0, gripperOpening: 1, jointPositions: [], stampMs: 0 };
    for (let i = 0; i < n; i++) this.emit({ type: 'step', episode, step: i + 1, held: null, state });
  }
  score(episode: number, step: number, progress: number): void {
    this.emit({ type: 'progress', point: { episode, step, progress, hop: 0, reward: 0, latencyMs: 1 } });
  }
}

describe('the scripted operator', () => {
  let robot: SimRobot;
  const options = { stallSteps: 10, takeoverSteps: 6, minRise: 0.05, seed: 1 };
  beforeAll(async () => {
    robot = await SimRobot.create(configSchema.parse({ robot: { task: 'push-cube' } }), { render: false });
    await robot.reset(3);
  });
  afterAll(async () => robot?.close());

  it('takes over when progress stalls, sends the expert as teleop velocities, and hands back after takeoverSteps', () => {
    const loop = new FakeLoop();
    const operator = new ScriptedOperator(loop, robot.world, 10, options, createLogger('test', 'silent'));
    loop.emit({ type: 'episode-start', episode: 1, at: 0 });
    loop.score(1, 0, 0.1);
    loop.steps(1, 9);
    expect(loop.changes).toEqual([]);
    loop.steps(1, 1);
    expect(loop.changes).toEqual([{ active: true, source: 'scripted operator' }]);
    // The expert's first command at once; then one per step until it has had the arm takeoverSteps steps.
    loop.steps(1, 5);
    expect(loop.commands).toHaveLength(6);
    for (const c of loop.commands) {
      expect(Math.hypot(...c.translation)).toBeGreaterThan(0);
      // At most the step cap (3 cm at 10 Hz: 0.3 m/s): the expert moves at half of it.
      expect(Math.hypot(...c.translation)).toBeLessThanOrEqual(0.3 + 1e-9);
    }
    loop.steps(1, 1);
    expect(loop.changes.at(-1)).toEqual({ active: false, source: 'scripted operator' });
    expect(operator.count).toBe(1);
    operator.close();
  });

  it('leaves the arm to the policy while progress rises, and to a person who has it', () => {
    const loop = new FakeLoop();
    const operator = new ScriptedOperator(loop, robot.world, 10, options, createLogger('test', 'silent'));
    loop.emit({ type: 'episode-start', episode: 2, at: 0 });
    for (let k = 0; k < 5; k++) {
      loop.score(2, k * 8, 0.1 * (k + 1));
      loop.steps(2, 8);
    }
    expect(loop.changes).toEqual([]);
    loop.setIntervention(true, 'dashboard');
    loop.steps(2, 30);
    expect(loop.commands).toEqual([]);
    expect(operator.count).toBe(0);
    operator.close();
  });

  it('hands back when the episode ends', () => {
    const loop = new FakeLoop();
    const operator = new ScriptedOperator(loop, robot.world, 10, { ...options, takeoverSteps: 100 }, createLogger('test', 'silent'));
    loop.emit({ type: 'episode-start', episode: 3, at: 0 });
    loop.steps(3, 12);
    expect(loop.interventionActive).toBe(true);
    loop.emit({ type: 'episode', summary: { episode: 3 } as never, successRate: null, rollouts: 1 });
    expect(loop.interventionActive).toBe(false);
    operator.close();
  });
});
