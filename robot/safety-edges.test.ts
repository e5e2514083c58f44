/**
 * The safety layer's details that safety.test.ts leaves loose: the exact text of every event and
 * log line an operator reads, counts, the e-stop's reason bookkeeping, watchdog edges and the
 * joint checks' corner cases. Written against the mutants StrykerJS left alive.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import { EventStream, type RunEvent } from './events.js';
import { EstopLatchedError, SafeRobot, type JointLimits, type SafetySettings } from './safety.js';
import { KinematicTestRobot } from './testing.js';
import type { ArmAction } from './types.js';

const defaults = configSchema.parse({}).safety;
const still: ArmAction = { dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: 0 };

/** A logger that keeps every line, so a test can read what the operator would. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = {
    lines,
    debug: (m: string) => lines.push(`debug ${m}`),
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
    error: (m: string) => lines.push(`error ${m}`),
    child: () => logger,
  };
  return logger;
}

async function setup(overrides: Partial<SafetySettings> = {}, robotOptions: ConstructorParameters<typeof KinematicTestRobot>[0] = {}, jointLimits?: JointLimits) {
  const clock = new ManualClock();
  const events = new EventStream(clock);
  const seen: RunEvent[] = [];
  events.subscribe((event) => seen.push(event));
  const log = recordingLogger();
  const robot = new KinematicTestRobot(robotOptions);
  const safe = new SafeRobot(robot, { ...defaults, ...overrides }, { clock, events, log }, ...(jointLimits ? [jointLimits] : []));
  await safe.reset(1);
  return { clock, events, seen, robot, safe, log };
}

const details = (seen: RunEvent[], kind: string): string[] => seen.filter((e) => e.kind === kind).map((e) => e.detail);

describe('safety layer: what the operator reads', () => {
  it('names the violation of a clipped step, yaw, box and gripper', async () => {
    const { safe, seen } = await setup({ maxStepM: 0.03, maxYawStepRad: 0.1, workspaceMax: [0.75, 0.3, 0.25] });
    // the test robot starts at the middle of its box: [0.5, 0, 0.235]
    await safe.act({ dx: 0, dy: 0.06, dz: 0.08, dyaw: -0.25, gripper: 1.5 });
    expect(details(seen, 'clipped')).toEqual([
      'action clipped: step 0.1000 m above 0.03 m; yaw step -0.2500 rad above 0.1 rad; z target 0.2590 outside [0.02, 0.25]; gripper 1.5 outside [0, 1]',
    ]);
    expect(seen.every((e) => e.source === 'safety')).toBe(true);
  });

  it('clips the box on each side and axis to the wall, from where the arm is', async () => {
    const { robot, safe, seen } = await setup({ maxStepM: 1, workspaceMin: [0.45, -0.05, 0.2], workspaceMax: [0.55, 0.05, 0.3] });
    const result = await safe.act({ ...still, dx: -0.2, dy: 0.2, dz: 0.01, gripper: -0.5 });
    expect(details(seen, 'clipped')).toEqual(['action clipped: x target 0.3000 outside [0.45, 0.55]; y target 0.2000 outside [-0.05, 0.05]; gripper -0.5 outside [0, 1]']);
    const sent = robot.received.at(-1)!.action;
    expect(sent.dx).toBeCloseTo(-0.05, 12);
    expect(sent.dy).toBeCloseTo(0.05, 12);
    expect(sent.dz).toBeCloseTo(0.01, 12); // inside: unchanged
    expect(sent.gripper).toBe(0);
    expect(result.applied).toEqual(sent);
    expect(result.heldBy).toBeUndefined();
    expect(result.timeLimit).toBe(false);
  });

  it('leaves an action inside every limit untouched, and an action exactly at a limit too', async () => {
    const { robot, safe, seen } = await setup({ maxStepM: 0.03, maxYawStepRad: 0.1 });
    await safe.act({ dx: 0.03, dy: 0, dz: 0, dyaw: 0.1, gripper: 1 });
    await safe.act({ dx: 0, dy: 0, dz: 0, dyaw: -0.1, gripper: 0 });
    expect(robot.received.map((r) => r.action)).toEqual([
      { dx: 0.03, dy: 0, dz: 0, dyaw: 0.1, gripper: 1 },
      { dx: 0, dy: 0, dz: 0, dyaw: -0.1, gripper: 0 },
    ]);
    expect(seen).toEqual([]);
    expect(safe.status().counts).toEqual({ forwarded: 2, clipped: 0, refused: 0, nonFinite: 0, held: 0 });
  });

  it('lets the arm reach a wall of the box exactly, from either side', async () => {
    // binary-exact figures: from x = 0.5 to the walls at 0.75 and 0.25
    const { robot, safe, seen } = await setup({ maxStepM: 0.25, workspaceMin: [0.25, -0.3, 0.02], workspaceMax: [0.75, 0.3, 0.45] }, { start: [0.5, 0, 0.25] });
    await safe.act({ ...still, dx: 0.25 });
    await safe.act({ ...still, dx: -0.25 });
    await safe.act({ ...still, dx: -0.25 });
    expect(seen).toEqual([]);
    expect(robot.received.map((r) => r.action.dx)).toEqual([0.25, -0.25, -0.25]);
  });

  it('reads the cameras before acting only when it must (a stale hold, or no observation yet)', async () => {
    const { robot, safe } = await setup();
    let observed = 0;
    const observe = robot.observe.bind(robot);
    robot.observe = () => {
      observed++;
      return observe();
    };
    await safe.act({ ...still, dx: 0.001 });
    await safe.act({ ...still, dx: 0.001 });
    expect(observed).toBe(0); // each step's own observation is enough
  });

  it('names every hold at once', async () => {
    const { clock, robot, safe } = await setup({ staleFrameMs: 150, rewardTimeoutMs: 100 }, { controlHz: 10 });
    robot.freezeCamera('cam_high');
    for (let i = 0; i < 2; i++) await safe.act({ ...still, dx: 0.001 });
    safe.noteRewardRequest();
    clock.advance(101);
    expect((await safe.act({ ...still, dx: 0.001 })).heldBy).toBe('held: stale-frames, reward-timeout');
  });

  it('holds every action while latched, before any other check', async () => {
    const { robot, safe, seen } = await setup({ onViolation: 'refuse', maxStepM: 0.01 });
    await safe.estop('dashboard', 'x');
    expect((await safe.act({ ...still, dx: Number.NaN })).heldBy).toBe('e-stop latched');
    expect((await safe.act({ ...still, dx: 0.5 })).heldBy).toBe('e-stop latched');
    expect(seen.map((e) => e.kind)).toEqual(['estop']);
    expect(safe.status().counts).toMatchObject({ nonFinite: 0, refused: 0, held: 2 });
    expect(robot.received).toHaveLength(0);
  });

  it('names a refused action and a non-finite one, and counts each kind', async () => {
    const { safe, seen } = await setup({ onViolation: 'refuse', maxStepM: 0.03 });
    await safe.act({ ...still, dx: 0.05, dyaw: 0.2 });
    await safe.act({ dx: Number.NaN, dy: 1, dz: Number.POSITIVE_INFINITY, dyaw: 0, gripper: 0.5 });
    expect(details(seen, 'refused')).toEqual(['action refused: step 0.0500 m above 0.03 m; yaw step 0.2000 rad above 0.1 rad']);
    expect(details(seen, 'non-finite')).toEqual(['action refused: dx=NaN dy=1 dz=Infinity dyaw=0 gripper=0.5']);
    expect(safe.status()).toEqual({
      estopped: false, estopReason: null, holds: [], onViolation: 'refuse',
      counts: { forwarded: 0, clipped: 0, refused: 1, nonFinite: 1, held: 2 },
    });
  });

  it('refuses an action whose values are not numbers', async () => {
    const { robot, safe } = await setup();
    const result = await safe.act({ ...still, dx: '0.01' as unknown as number });
    expect(result.heldBy).toBe('non-finite action');
    expect(robot.received).toHaveLength(0);
  });

  it('throttles per kind, and says how many it held back once the second is over', async () => {
    const { clock, safe, seen } = await setup({ maxStepM: 0.01 });
    await safe.act({ ...still, dx: 0.02 });
    await safe.act({ ...still, dx: Number.NaN }); // another kind: not throttled by the clip
    clock.advance(999);
    await safe.act({ ...still, dx: 0.02 }); // within the second: counted, not sent
    clock.advance(1);
    await safe.act({ ...still, dx: 0.02 });
    clock.advance(1000);
    await safe.act({ ...still, dx: 0.02 });
    expect(details(seen, 'clipped')).toEqual([
      'action clipped: step 0.0200 m above 0.01 m',
      'action clipped: step 0.0200 m above 0.01 m (+1 more in the last second)',
      'action clipped: step 0.0200 m above 0.01 m',
    ]);
    expect(details(seen, 'non-finite')).toHaveLength(1);
  });

  it('holds while frames are stale, naming each camera and its age, and logs hold and release', async () => {
    const { robot, safe, seen, log } = await setup({ staleFrameMs: 150 }, { controlHz: 10 });
    robot.freezeCamera('cam_high');
    robot.freezeCamera('cam_right_wrist');
    for (let i = 0; i < 2; i++) await safe.act({ ...still, dx: 0.001 });
    expect(details(seen, 'hold')).toEqual(['stale-frames: cam_high: 200 ms old, cam_right_wrist: 200 ms old (limit 150 ms)']);
    expect(log.lines).toContain('warn hold (stale-frames): cam_high: 200 ms old, cam_right_wrist: 200 ms old (limit 150 ms)');
    const held = await safe.act({ ...still, dx: 0.001 });
    expect(held).toMatchObject({ applied: null, heldBy: 'held: stale-frames', timeLimit: false });
    robot.freezeCamera('cam_high', false);
    robot.freezeCamera('cam_right_wrist', false);
    await robot.reset(); // the cameras deliver again
    expect((await safe.act({ ...still, dx: 0.001 })).applied).not.toBeNull();
    expect(details(seen, 'release')).toEqual(['stale-frames: frames are fresh again']);
    expect(log.lines).toContain('info hold released (stale-frames): frames are fresh again');
    expect(seen.filter((e) => e.kind === 'hold' || e.kind === 'release').every((e) => e.source === 'safety')).toBe(true);
  });

  it('a new episode releases a stale-frame hold and an actor hold', async () => {
    const { clock, robot, safe, seen } = await setup({ staleFrameMs: 150, actorTimeoutMs: 100 }, { controlHz: 10 });
    robot.freezeCamera('cam_high');
    for (let i = 0; i < 2; i++) await safe.act({ ...still, dx: 0.001 });
    safe.armActorWatchdog();
    clock.advance(101);
    safe.checkWatchdog();
    robot.freezeCamera('cam_high', false);
    await safe.reset(2);
    expect(details(seen, 'release').sort()).toEqual(['actor-timeout: new episode', 'stale-frames: new episode']);
    expect(safe.status().holds).toEqual([]);
  });

  it('holds at a frame exactly staleFrameMs old only once it is older', async () => {
    const { robot, safe } = await setup({ staleFrameMs: 200 }, { controlHz: 10 });
    robot.freezeCamera('cam_high');
    await safe.act({ ...still, dx: 0.001 }); // 100 ms
    await safe.act({ ...still, dx: 0.001 }); // 200 ms: not yet
    expect(safe.status().holds).toEqual([]);
    await safe.act({ ...still, dx: 0.001 }); // 300 ms
    expect(safe.status().holds).toEqual(['stale-frames']);
  });

  it('holds when a camera has no frame at all, naming it', async () => {
    const { seen, safe, robot } = await setup({}, { views: [{ role: 'front', name: 'cam_high' }] });
    robot.cameras[0]!.latest = () => undefined; // a camera driver that never delivered
    await safe.act({ ...still, dx: 0.001 });
    expect(details(seen, 'hold')).toEqual(['stale-frames: cam_high: no frame (limit 500 ms)']);
  });

  it('looks at the cameras before the first action when it has no observation yet', async () => {
    const clock = new ManualClock();
    const events = new EventStream(clock);
    const robot = new KinematicTestRobot();
    const safe = new SafeRobot(robot, defaults, { clock, events, log: recordingLogger() });
    const result = await safe.act({ ...still, dx: 0.001 }); // no reset: the layer observes first
    expect(result.applied).not.toBeNull();
    expect(robot.received).toHaveLength(1);
  });
});

describe('safety layer: e-stop bookkeeping', () => {
  it('records the first reason and source, counts latches, and says when it was latched already', async () => {
    const { robot, safe, seen, log } = await setup();
    expect(safe.estopCount).toBe(0);
    await safe.estop('dashboard', 'first');
    await safe.estop('mqtt', 'second');
    expect(safe.estopCount).toBe(1);
    expect(safe.status()).toMatchObject({ estopped: true, estopReason: 'first (dashboard)' });
    expect(seen.filter((e) => e.kind === 'estop').map((e) => [e.detail, e.source])).toEqual([
      ['first', 'dashboard'],
      ['second (already latched)', 'mqtt'],
    ]);
    expect(log.lines).toEqual(expect.arrayContaining(['warn E-STOP from dashboard: first', 'warn E-STOP from mqtt: second']));
    expect(robot.stopCalls.map((c) => c.reason)).toEqual(['first', 'second']);
    await expect(safe.reset(2)).rejects.toThrow(new EstopLatchedError('e-stop latched (first (dashboard)): reset it first'));
    await expect(safe.reset(2)).rejects.toMatchObject({ name: 'EstopLatchedError' });

    expect(safe.resetEstop('dashboard')).toBe(true);
    expect(safe.status()).toMatchObject({ estopped: false, estopReason: null });
    expect(seen.filter((e) => e.kind === 'estop-reset').map((e) => [e.detail, e.source])).toEqual([['e-stop released by the operator', 'dashboard']]);
    expect(log.lines).toContain('info e-stop released (dashboard)');
    await safe.estop('signal', 'third');
    expect(safe.estopCount).toBe(2);
    expect(safe.status().estopReason).toBe('third (signal)');
  });

  it('stop() is an e-stop from the safety source', async () => {
    const { safe } = await setup();
    await safe.stop('shutting down');
    expect(safe.status()).toMatchObject({ estopped: true, estopReason: 'shutting down (safety)' });
  });

  it('latches even when the arm fails to stop, and reports that failure', async () => {
    const { robot, safe, seen, log } = await setup();
    robot.stop = () => Promise.reject(new Error('driver gone'));
    await safe.estop('dashboard', 'x');
    expect(safe.estopped).toBe(true);
    expect(seen.filter((e) => e.kind === 'fault').map((e) => [e.detail, e.source])).toEqual([['robot.stop failed: driver gone', 'safety']]);
    expect(log.lines).toContain('error robot.stop failed during e-stop: driver gone');
    robot.stop = () => Promise.reject('not an Error');
    await safe.estop('dashboard', 'y');
    expect(details(seen, 'fault').at(-1)).toBe('robot.stop failed: not an Error');
  });

  it('describes a latch later only when it is still that latch', async () => {
    const { safe, seen } = await setup();
    safe.describeLatch(0, 'nothing latched', 'dashboard'); // not latched: ignored
    expect(safe.status().estopReason).toBeNull();
    await safe.estop('dashboard', 'e-stop over HTTP');
    const count = safe.estopCount;
    safe.describeLatch(count, 'gripper jam', 'dashboard');
    expect(safe.status().estopReason).toBe('gripper jam (dashboard)');
    expect(seen.filter((e) => e.kind === 'estop').map((e) => [e.detail, e.source]).at(-1)).toEqual(['reason: gripper jam', 'dashboard']);
    safe.describeLatch(count + 1, 'a later latch', 'dashboard'); // another latch's reason: ignored
    expect(safe.status().estopReason).toBe('gripper jam (dashboard)');
    safe.resetEstop('dashboard');
    safe.describeLatch(count, 'too late', 'dashboard'); // released: ignored
    expect(safe.status().estopReason).toBeNull();
  });

  it('releases an actor hold and a reward hold on reset, and disarms the actor watchdog on an e-stop', async () => {
    const { clock, safe, seen } = await setup({ actorTimeoutMs: 100, rewardTimeoutMs: 100 });
    safe.armActorWatchdog();
    safe.noteRewardRequest();
    clock.advance(101);
    safe.checkWatchdog();
    expect(safe.status().holds.sort()).toEqual(['actor-timeout', 'reward-timeout']);
    expect(safe.heldForReward).toBe(true);
    await safe.estop('dashboard', 'x');
    safe.resetEstop('dashboard');
    expect(safe.status().holds).toEqual([]);
    expect(safe.heldForReward).toBe(false);
    expect(details(seen, 'release')).toEqual(['reward-timeout: reset by the operator (dashboard)']);
    // the e-stop disarmed the actor watchdog: silence after the reset is no hold
    clock.advance(10_000);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual(['reward-timeout']); // the request still in flight timed out again
  });
});

describe('safety layer: watchdog edges', () => {
  it('names the actor timeout with the silence and the limit, and holds only past the limit', async () => {
    const { clock, safe, seen } = await setup({ actorTimeoutMs: 1000 });
    safe.armActorWatchdog();
    clock.advance(1000);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual([]);
    clock.advance(500);
    safe.checkWatchdog();
    safe.checkWatchdog(); // engaged once
    expect(details(seen, 'hold')).toEqual(['actor-timeout: no action for 1500 ms (limit 1000 ms)']);
    const dropped = await safe.act({ ...still, dx: 0.001 });
    expect(dropped.heldBy).toBe('actor was silent: first action dropped');
    expect(details(seen, 'release')).toEqual(['actor-timeout: the actor is sending again (its first action was dropped)']);
  });

  it('does not time out an actor that was never armed', async () => {
    const { clock, safe } = await setup({ actorTimeoutMs: 1000 });
    clock.advance(5000);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual([]);
  });

  it('does not time out the actor while the e-stop is latched', async () => {
    const { clock, safe } = await setup({ actorTimeoutMs: 1000 });
    await safe.estop('dashboard', 'x');
    safe.armActorWatchdog();
    clock.advance(5000);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual([]);
  });

  it('an action resets the actor clock: it keeps the watchdog quiet', async () => {
    const { clock, safe } = await setup({ actorTimeoutMs: 1000 });
    safe.armActorWatchdog();
    for (let i = 0; i < 5; i++) {
      clock.advance(600);
      await safe.act({ ...still, dx: 0.001 });
      safe.checkWatchdog();
    }
    expect(safe.status().holds).toEqual([]);
  });

  it('names the reward timeout, holds only past it, and counts requests still in flight', async () => {
    const { clock, safe, seen } = await setup({ rewardTimeoutMs: 1000 });
    safe.noteRewardRequest();
    clock.advance(400);
    safe.noteRewardRequest(); // the first request's clock keeps running
    clock.advance(600);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual([]);
    clock.advance(1);
    safe.checkWatchdog();
    expect(details(seen, 'hold')).toEqual(['reward-timeout: reward model silent for 1001 ms (limit 1000 ms)']);
    safe.noteRewardAnswer(true); // one answered, one still pending: its clock starts now
    expect(details(seen, 'release')).toEqual(['reward-timeout: the reward model answered']);
    clock.advance(1000);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual([]);
    clock.advance(1);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual(['reward-timeout']);
    safe.noteRewardAnswer(true); // none pending now: no clock
    clock.advance(60_000);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual([]);
  });

  it('a failed answer does not restart the reward clock', async () => {
    const { clock, safe } = await setup({ rewardTimeoutMs: 100 });
    safe.noteRewardRequest();
    clock.advance(60);
    safe.noteRewardAnswer(false); // an error, not an answer: the silence goes on from the request
    clock.advance(50);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual(['reward-timeout']);
  });

  it('never counts below zero pending requests', async () => {
    const { clock, safe } = await setup({ rewardTimeoutMs: 100 });
    safe.noteRewardAnswer(true); // an answer without a request
    safe.noteRewardRequest();
    safe.noteRewardAnswer(true);
    clock.advance(1000);
    safe.checkWatchdog();
    expect(safe.status().holds).toEqual([]);
  });

  it('clearRewardHold gives a request in flight a full timeout from now, and none without one', async () => {
    const { clock, safe } = await setup({ rewardTimeoutMs: 100 });
    safe.noteRewardRequest();
    clock.advance(150);
    safe.checkWatchdog();
    expect(safe.heldForReward).toBe(true);
    safe.clearRewardHold('run start');
    expect(safe.heldForReward).toBe(false);
    clock.advance(100);
    safe.checkWatchdog();
    expect(safe.heldForReward).toBe(false);
    clock.advance(1);
    safe.checkWatchdog();
    expect(safe.heldForReward).toBe(true);
    safe.noteRewardAnswer(true);
    safe.clearRewardHold('run start');
    clock.advance(10_000);
    safe.checkWatchdog();
    expect(safe.heldForReward).toBe(false);
  });

  it('runs the watchdog on a real timer until stopped, and close stops it', async () => {
    const clock = new ManualClock();
    const events = new EventStream(clock);
    const robot = new KinematicTestRobot();
    const safe = new SafeRobot(robot, { ...defaults, actorTimeoutMs: 100 }, { clock, events, log: recordingLogger() });
    await safe.reset(1);
    safe.armActorWatchdog();
    clock.advance(200);
    safe.startWatchdog(5);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(safe.status().holds).toEqual(['actor-timeout']);
    await safe.act({ ...still }); // drops the first action, releases the hold
    safe.stopWatchdog();
    clock.advance(200);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(safe.status().holds).toEqual([]);
    safe.startWatchdog(5);
    safe.startWatchdog(5); // restarting replaces the timer
    await safe.close();
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(safe.status().holds).toEqual([]);
  });
});

describe('safety layer: closing', () => {
  it('close() closes the robot underneath', async () => {
    const { robot, safe } = await setup();
    await safe.close();
    await expect(robot.observe()).rejects.toThrow('test robot is closed');
  });
});

describe('safety layer: joint checks', () => {
  const limits: JointLimits = { lower: [0, -1, 0, -10], upper: [0.6, 1, 1, 10] };

  it('names a joint above its limit and one below, with the limits, and latches', async () => {
    const { robot, safe, seen } = await setup({}, { jointLimits: limits });
    robot.teleport([0.599, -0.995, 0.2]);
    await safe.act({ ...still, dx: 0.01, dy: -0.01 });
    expect(details(seen, 'joint-limit')).toEqual(['joint 0 at 0.6090 outside [0, 0.6]; joint 1 at -1.0050 outside [-1, 1]']);
    expect(safe.status().estopReason).toBe('joint limits: joint 0 at 0.6090 outside [0, 0.6]; joint 1 at -1.0050 outside [-1, 1] (safety)');
  });

  it('accepts joints exactly at their limits', async () => {
    const { robot, safe } = await setup({}, { jointLimits: { lower: [0.5, -1, 0.2, -10], upper: [0.51, 1, 1, 10] } });
    robot.teleport([0.5, 0, 0.2]);
    await safe.act({ ...still, dx: 0.01 });
    expect(safe.estopped).toBe(false);
  });

  it('names a joint that reads NaN', async () => {
    const { robot, safe, seen } = await setup({}, { jointLimits: limits });
    robot.teleport([Number.NaN, 0, 0.2]);
    await safe.act({ ...still });
    expect(details(seen, 'joint-limit')).toEqual(['joint 0 reads NaN']);
    expect(safe.estopped).toBe(true);
  });

  it('checks only the limits a robot gives: a missing bound or speed is no limit', async () => {
    const { robot, safe } = await setup({ maxStepM: 0.5 }, { controlHz: 10, jointLimits: { lower: [0.5], upper: [], maxVelocity: [10] } });
    robot.teleport([0.6, 5, -3]);
    await safe.act({ ...still, dy: 0.4, dz: 0.3 }); // joints 1 and 2 have no bounds nor speeds
    await safe.act({ ...still, dy: -0.4, dz: -0.3 }); // a speed is read from the second step on
    expect(safe.estopped).toBe(false);
  });

  it('checks no joints on a robot without limits', async () => {
    const clock = new ManualClock();
    const events = new EventStream(clock);
    const robot = new KinematicTestRobot();
    Object.defineProperty(robot, 'jointLimits', { value: undefined }); // a robot that reports none
    const safe = new SafeRobot(robot, defaults, { clock, events, log: recordingLogger() });
    await safe.reset(1);
    robot.teleport([50, 50, 50]); // far outside the test robot's usual limits
    await safe.act({ ...still });
    expect(safe.estopped).toBe(false);
  });

  it('names a joint moving too fast, with its speed, accepts one at the limit, and forgets the speed across episodes', async () => {
    // 8 Hz: 0.125 s a step, so 0.25 m in a step is exactly 2 m/s
    const fast: JointLimits = { lower: [-5, -5, -5, -5], upper: [5, 5, 5, 5], maxVelocity: [2, 2, 2, 1] };
    const { robot, safe, seen } = await setup({ maxStepM: 0.3 }, { controlHz: 8, start: [0.5, 0, 0.25], jointLimits: fast });
    await safe.act({ ...still });
    await safe.act({ ...still, dx: 0.25 }); // 2 m/s: at the limit
    await safe.act({ ...still, dx: -0.25 });
    expect(safe.estopped).toBe(false);
    robot.teleport([0.3, 0, 0.25]); // a jump between episodes is no speed
    await safe.reset(2);
    await safe.act({ ...still, dy: 0.01 });
    expect(safe.estopped).toBe(false);
    await safe.act({ ...still, dy: -0.26 });
    expect(seen.filter((e) => e.kind === 'joint-limit').map((e) => [e.detail, e.source])).toEqual([['joint 1 speed 2.080/s above 2/s', 'safety']]);
  });

  it('reads no speed from two readings with the same stamp', async () => {
    const fast: JointLimits = { lower: [-5, -5, -5, -5], upper: [5, 5, 5, 5], maxVelocity: [0.2, 0.2, 0.2, 1] };
    const { robot, safe } = await setup({ maxStepM: 0.5 }, { controlHz: 10, jointLimits: fast });
    const stamp = (await safe.act({ ...still })).observation.state.stampMs;
    const act = robot.act.bind(robot);
    robot.act = async (action) => {
      const result = await act(action);
      return { ...result, observation: { ...result.observation, state: { ...result.observation.state, stampMs: stamp } } };
    };
    await safe.act({ ...still, dx: 0.3 }); // stamped as the one before it: no time passed, no speed
    expect(safe.estopped).toBe(false);
  });
});
