import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { createLogger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import { EventStream } from '../robot/events.js';
import { SafeRobot } from '../robot/safety.js';
import { KinematicTestRobot } from '../robot/testing.js';
import { RunLoop, type EpisodeSummary } from './run-loop.js';
import type { ActionSource, StepRecord } from './sources.js';
import { DistanceProgressStandIn, standInGoal } from './stand-ins.js';
import { TELEOP_TIMEOUT_MS } from './teleop.js';

const config = configSchema.parse({});
const log = createLogger('test', 'silent');
const goal = standInGoal(config.safety.workspaceMin, config.safety.workspaceMax);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const open: RunLoop[] = [];
afterEach(async () => {
  for (const loop of open.splice(0)) await loop.close();
});

/** A loop at 50 Hz whose policy always moves -x with the gripper closed, recording every step. */
function build() {
  const events = new EventStream(systemClock);
  const robot = new KinematicTestRobot({ controlHz: 50, episodeSteps: 10_000 });
  const safe = new SafeRobot(robot, config.safety, { clock: systemClock, events, log });
  const records: StepRecord[] = [];
  const summaries: EpisodeSummary[] = [];
  const actions: ActionSource = {
    label: 'test policy moving -x',
    next: () => ({ dx: -0.002, dy: 0, dz: 0, dyaw: 0, gripper: 1 }),
    afterStep: (record) => records.push(record),
    endEpisode: (summary) => summaries.push(summary),
  };
  const loop = new RunLoop({
    robot: safe, actions, progress: new DistanceProgressStandIn(goal, 0.99), events, clock: systemClock, log,
    episodeSteps: 10_000, successJudge: 'operator', successDelta: 0.05,
  });
  open.push(loop);
  return { events, robot, loop, records, summaries };
}

describe('operator interventions in the run loop', () => {
  it("replaces the policy's action by the operator's command through the safety layer, then hands back", async () => {
    const { loop, records, summaries, events } = build();
    loop.start('test');
    await waitFor(() => records.length >= 3, 'policy steps');
    expect(loop.setIntervention(true, 'test')).toBe(true);
    expect(loop.snapshot().intervention).toBe(true);
    // 0.5 m/s at 50 Hz asks for 1 cm a step in +y; a request past the 3 cm cap is clipped like any action.
    const feed = setInterval(() => loop.teleop({ translation: [0, 0.5, 4], yaw: 0, gripper: 'open' }), 20);
    try {
      await waitFor(() => records.filter((r) => r.origin === 'operator').length >= 5, 'operator steps');
    } finally {
      clearInterval(feed);
    }
    const driven = records.filter((r) => r.origin === 'operator');
    for (const r of driven) {
      expect(r.proposed.dy).toBeCloseTo(0.01, 9);
      expect(r.proposed.gripper).toBe(0);
      expect(Math.hypot(r.applied.dx, r.applied.dy, r.applied.dz)).toBeLessThanOrEqual(config.safety.maxStepM + 1e-9);
      expect(r.next.state.eePosition[1]).toBeGreaterThan(r.observation.state.eePosition[1]);
    }
    expect(loop.setIntervention(false, 'test')).toBe(true);
    const handedBack = records.length;
    await waitFor(() => records.length >= handedBack + 3, 'policy steps again');
    expect(records.slice(handedBack + 1).every((r) => r.origin === 'policy')).toBe(true);
    loop.mark('failure', 'test');
    await waitFor(() => summaries.length === 1, 'the episode');
    const operatorSteps = records.filter((r) => r.episode === 1 && r.origin !== 'policy').length;
    expect(summaries[0]!.interventionSteps).toBe(operatorSteps);
    expect(operatorSteps).toBeGreaterThanOrEqual(5);
    expect(events.recent().filter((e) => e.kind === 'intervention').map((e) => e.detail)).toEqual([
      'operator took over the arm',
      'operator handed the arm back to the policy',
    ]);
  });

  it(`holds the arm when teleop commands stop for ${TELEOP_TIMEOUT_MS} ms, and moves again when they resume`, async () => {
    const { loop, records } = build();
    loop.start('test');
    await waitFor(() => records.length >= 2, 'policy steps');
    loop.setIntervention(true, 'test');
    loop.teleop({ translation: [0.2, 0, 0], yaw: 0, gripper: 'closed' });
    const stoppedAt = Date.now();
    await sleep(TELEOP_TIMEOUT_MS + 300);
    const since = records.length;
    await waitFor(() => records.length >= since + 5, 'held steps');
    const held = records.slice(since);
    expect(held.every((r) => r.origin === 'hold')).toBe(true);
    for (const r of held) {
      expect([r.applied.dx, r.applied.dy, r.applied.dz, r.applied.dyaw]).toEqual([0, 0, 0, 0]);
      expect(r.applied.gripper).toBe(1); // the operator's last gripper command stands
      expect(r.next.state.eePosition).toEqual(r.observation.state.eePosition);
    }
    expect(Date.now() - stoppedAt).toBeGreaterThan(TELEOP_TIMEOUT_MS);
    loop.teleop({ translation: [0.2, 0, 0], yaw: 0, gripper: 'closed' });
    const resumed = records.length;
    await waitFor(() => records.slice(resumed).some((r) => r.origin === 'operator'), 'an operator step');
  });

  it('an e-stop ends the intervention: after the reset the policy drives until the operator takes over again', async () => {
    const { loop, records } = build();
    loop.start('test');
    await waitFor(() => records.length >= 2, 'policy steps');
    loop.setIntervention(true, 'test');
    await loop.estop('test', 'test e-stop');
    expect(loop.interventionActive).toBe(false);
    expect(loop.teleop({ translation: [0.2, 0, 0], yaw: 0, gripper: 'open' })).toBe(false);
    loop.resetEstop('test');
    const after = records.length;
    await waitFor(() => records.length >= after + 3, 'steps after the reset');
    expect(records.slice(after).every((r) => r.origin === 'policy')).toBe(true);
  });
});
