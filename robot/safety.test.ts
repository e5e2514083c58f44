import { describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.js';
import { createLogger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import { EventStream, type RunEvent } from './events.js';
import { EstopLatchedError, SafeRobot, type SafetySettings } from './safety.js';
import { KinematicTestRobot } from './testing.js';
import type { ArmAction } from './types.js';

const defaults = configSchema.parse({}).safety;
const still: ArmAction = { dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: 0 };

async function setup(overrides: Partial<SafetySettings> = {}, robotOptions: ConstructorParameters<typeof KinematicTestRobot>[0] = {}) {
  const clock = new ManualClock();
  const events = new EventStream(clock);
  const seen: RunEvent[] = [];
  events.subscribe((event) => seen.push(event));
  const robot = new KinematicTestRobot(robotOptions);
  const safe = new SafeRobot(robot, { ...defaults, ...overrides }, { clock, events, log: createLogger('test', 'silent') });
  await safe.reset(1);
  return { clock, events, seen, robot, safe };
}

const kinds = (events: RunEvent[]) => events.map((e) => e.kind);

describe('safety layer: action limits', () => {
  it('clips a step longer than maxStepM to that length, in the same direction', async () => {
    const { robot, safe, seen } = await setup({ maxStepM: 0.03, onViolation: 'clip' });
    const result = await safe.act({ ...still, dx: 0.06, dy: 0.08 });
    const sent = robot.received.at(-1)!.action;
    expect(Math.hypot(sent.dx, sent.dy, sent.dz)).toBeCloseTo(0.03, 9);
    expect(sent.dx / sent.dy).toBeCloseTo(0.06 / 0.08, 9);
    expect(result.applied).toEqual(sent);
    expect(kinds(seen)).toContain('clipped');
    expect(safe.status().counts.clipped).toBe(1);
  });

  it('clips the yaw step to maxYawStepRad and the gripper to [0, 1]', async () => {
    const { robot, safe } = await setup({ maxYawStepRad: 0.1 });
    await safe.act({ ...still, dyaw: -0.5, gripper: 3 });
    expect(robot.received.at(-1)!.action.dyaw).toBeCloseTo(-0.1, 12);
    expect(robot.received.at(-1)!.action.gripper).toBe(1);
  });

  it('keeps the end effector inside the workspace box when clipping', async () => {
    const { robot, safe } = await setup({ maxStepM: 0.05, workspaceMax: [0.75, 0.3, 0.45] });
    // Push up in z for many steps: the target stops at the ceiling.
    for (let i = 0; i < 20; i++) await safe.act({ ...still, dz: 0.05 });
    const state = (await robot.observe()).state;
    expect(state.eePosition[2]).toBeCloseTo(0.45, 9);
    for (const received of robot.received) expect(Math.hypot(received.action.dx, received.action.dy, received.action.dz)).toBeLessThanOrEqual(0.05 + 1e-12);
  });

  it('refuses out-of-bounds actions when onViolation is refuse: nothing reaches the arm', async () => {
    const { robot, safe, seen } = await setup({ maxStepM: 0.03, onViolation: 'refuse' });
    const result = await safe.act({ ...still, dx: 0.2 });
    expect(robot.received).toHaveLength(0);
    expect(result.applied).toBeNull();
    expect(result.heldBy).toMatch(/out of bounds/);
    expect(kinds(seen)).toContain('refused');
    // A small action inside the box still goes through.
    const ok = await safe.act({ ...still, dx: 0.01 });
    expect(ok.applied).not.toBeNull();
    expect(robot.received).toHaveLength(1);
  });

  it('refuses an action that would leave the box (refuse mode), even if the step is small', async () => {
    const { robot, safe } = await setup({ onViolation: 'refuse', workspaceMin: [0.49, -0.3, 0.02], workspaceMax: [0.51, 0.3, 0.45] });
    const result = await safe.act({ ...still, dx: 0.02 });
    expect(result.applied).toBeNull();
    expect(robot.received).toHaveLength(0);
  });

  it.each([
    ['NaN dx', { dx: Number.NaN }],
    ['infinite dz', { dz: Number.POSITIVE_INFINITY }],
    ['NaN gripper', { gripper: Number.NaN }],
    ['-Infinity yaw', { dyaw: Number.NEGATIVE_INFINITY }],
  ])('never forwards an action with %s, in either mode', async (_name, bad) => {
    for (const onViolation of ['clip', 'refuse'] as const) {
      const { robot, safe, seen } = await setup({ onViolation });
      const result = await safe.act({ ...still, ...bad });
      expect(robot.received).toHaveLength(0);
      expect(result.applied).toBeNull();
      expect(kinds(seen)).toContain('non-finite');
    }
  });

  it('throttles repeated clip events to one per second, counting the rest', async () => {
    const { clock, safe, seen } = await setup({ maxStepM: 0.01 });
    for (let i = 0; i < 5; i++) await safe.act({ ...still, dx: 0.02 });
    expect(kinds(seen).filter((k) => k === 'clipped')).toHaveLength(1);
    clock.advance(1001);
    await safe.act({ ...still, dx: -0.02 });
    const clipped = seen.filter((e) => e.kind === 'clipped');
    expect(clipped).toHaveLength(2);
    expect(clipped[1]!.detail).toMatch(/\+4 more/);
    expect(safe.status().counts.clipped).toBe(6);
  });
});

describe('safety layer: watchdogs', () => {
  it('holds when a camera stops delivering frames, and releases when it recovers', async () => {
    const { robot, safe, seen } = await setup({ staleFrameMs: 500 }, { controlHz: 10 });
    robot.freezeCamera('cam_left_wrist');
    // 100 ms of robot time per step: after 5 steps the frozen frame is 500 ms old, after 6 it is stale.
    let held = 0;
    for (let i = 0; i < 10; i++) if ((await safe.act({ ...still, dx: 0.001 })).applied === null) held++;
    expect(safe.status().holds).toContain('stale-frames');
    expect(held).toBeGreaterThan(0);
    const forwardedWhileFrozen = robot.received.length;
    expect(forwardedWhileFrozen).toBe(6);
    expect(seen.find((e) => e.kind === 'hold')!.detail).toMatch(/cam_left_wrist/);

    robot.freezeCamera('cam_left_wrist', false);
    await robot.reset(); // the test robot renders on reset: the camera is alive again
    const after = await safe.act({ ...still, dx: 0.001 });
    expect(after.applied).not.toBeNull();
    expect(safe.status().holds).not.toContain('stale-frames');
    expect(kinds(seen)).toContain('release');
  });

  it('holds when the actor stops sending, and drops the first action after the silence', async () => {
    const { clock, robot, safe, seen } = await setup({ actorTimeoutMs: 1000 });
    safe.armActorWatchdog();
    await safe.act({ ...still, dx: 0.001 });
    clock.advance(999);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual([]);
    clock.advance(2);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual(['actor-timeout']);
    expect(seen.at(-1)!.kind).toBe('hold');

    const stale = await safe.act({ ...still, dx: 0.002 });
    expect(stale.applied).toBeNull();
    expect(robot.received).toHaveLength(1);
    const fresh = await safe.act({ ...still, dx: 0.002 });
    expect(fresh.applied).not.toBeNull();
    expect(robot.received).toHaveLength(2);
  });

  it('does not time out the actor while disarmed (paused run)', async () => {
    const { clock, safe } = await setup({ actorTimeoutMs: 1000 });
    safe.armActorWatchdog();
    safe.disarmActorWatchdog();
    clock.advance(60_000);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual([]);
  });

  it('holds while the reward model has not answered within rewardTimeoutMs, releases on an answer', async () => {
    const { clock, robot, safe } = await setup({ rewardTimeoutMs: 5000 });
    safe.noteRewardRequest();
    clock.advance(4000);
    expect((await safe.act({ ...still, dx: 0.001 })).applied).not.toBeNull();
    clock.advance(1001);
    const held = await safe.act({ ...still, dx: 0.001 });
    expect(held.applied).toBeNull();
    expect(held.heldBy).toMatch(/reward-timeout/);
    expect(robot.received).toHaveLength(1);
    safe.noteRewardAnswer(true);
    expect((await safe.act({ ...still, dx: 0.001 })).applied).not.toBeNull();
  });

  it('counts a failing reward model as silent', async () => {
    const { clock, safe } = await setup({ rewardTimeoutMs: 100 });
    safe.noteRewardRequest();
    safe.noteRewardAnswer(false);
    safe.noteRewardRequest();
    clock.advance(101);
    safe.checkWatchdog();
    expect(safe.status().holds).toContain('reward-timeout');
  });
});

describe('safety layer: e-stop and joints', () => {
  it('latches: stops the arm, forwards nothing, refuses reset until the operator releases it', async () => {
    const { robot, safe, seen } = await setup();
    await safe.act({ ...still, dx: 0.001 });
    await safe.estop('dashboard', 'test');
    expect(robot.stopCalls).toHaveLength(1);
    expect(safe.estopped).toBe(true);
    for (let i = 0; i < 3; i++) expect((await safe.act({ ...still, dx: 0.001 })).heldBy).toBe('e-stop latched');
    expect(robot.received).toHaveLength(1);
    await expect(safe.reset(2)).rejects.toBeInstanceOf(EstopLatchedError);

    expect(safe.resetEstop('dashboard')).toBe(true);
    expect(safe.resetEstop('dashboard')).toBe(false);
    await safe.reset(2);
    expect((await safe.act({ ...still, dx: 0.001 })).applied).not.toBeNull();
    expect(robot.received.every((r) => !r.whileStopped)).toBe(true);
    expect(kinds(seen)).toEqual(expect.arrayContaining(['estop', 'estop-reset']));
  });

  it('holds an action whose camera check was under way when the e-stop came', async () => {
    const { robot, safe } = await setup({ staleFrameMs: 500 }, { controlHz: 10 });
    robot.freezeCamera('cam_left_wrist');
    for (let i = 0; i < 8; i++) await safe.act({ ...still, dx: 0.001 });
    expect(safe.status().holds).toContain('stale-frames');
    const forwarded = robot.received.length;
    robot.freezeCamera('cam_left_wrist', false);
    await robot.reset(); // fresh frames: the next camera check releases the hold

    // The safety layer looks at the cameras again before it decides; the e-stop lands during that read.
    const read = robot.observe.bind(robot);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    robot.observe = async () => {
      await gate;
      return read();
    };
    const pending = safe.act({ ...still, dx: 0.001 });
    await safe.estop('dashboard', 'pressed while the cameras were read');
    open();
    const result = await pending;

    expect(safe.status().holds).toEqual([]); // the frames were fresh: only the latch holds this action
    expect(result.applied).toBeNull();
    expect(result.heldBy).toBe('e-stop latched');
    expect(robot.received).toHaveLength(forwarded);
    expect(robot.received.every((r) => !r.whileStopped)).toBe(true);
  });

  it('latches the e-stop when a reported joint leaves its limits', async () => {
    const { robot, safe, seen } = await setup({}, { jointLimits: { lower: [0, -1, 0, -10], upper: [0.6, 1, 1, 10] } });
    robot.teleport([0.599, 0, 0.2]);
    await safe.act({ ...still, dx: 0.01 }); // the test robot moves to x = 0.609 > 0.6
    expect(kinds(seen)).toContain('joint-limit');
    expect(safe.estopped).toBe(true);
    expect(robot.stopCalls).toHaveLength(1);
  });

  it('latches the e-stop when a joint moves faster than its velocity limit', async () => {
    const { safe, seen } = await setup({ maxStepM: 0.05 }, { controlHz: 10, jointLimits: { lower: [-5, -5, -5, -5], upper: [5, 5, 5, 5], maxVelocity: [0.2, 0.2, 0.2, 1] } });
    await safe.act({ ...still, dx: 0.01 }); // 0.1 m/s: fine
    expect(safe.estopped).toBe(false);
    await safe.act({ ...still, dx: 0.03 }); // 0.3 m/s: too fast
    expect(seen.find((e) => e.kind === 'joint-limit')!.detail).toMatch(/speed/);
    expect(safe.estopped).toBe(true);
  });
});
