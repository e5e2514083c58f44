/**
 * The safety layer: a Robot that wraps the real one and sits between every policy action and the
 * arm. It limits actions (workspace box, per-step caps, NaN/inf), holds the arm when a watchdog
 * fires (stale camera frames, silent reward model, silent actor), checks reported joints against
 * limits, and owns the latching e-stop. Every intervention is an event.
 *
 * "Hold" means no action is forwarded: the simulator does not step, and a lab arm under MoveIt
 * Servo halts when its command stream stops. The e-stop additionally calls `robot.stop()`.
 */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import type { EventKind, EventStream } from './events.js';
import type { ArmAction, FrameSource, Observation, Robot, StepResult } from './types.js';

/** Joint limits, for robots that report them (the safety layer reads them by duck typing). */
export interface JointLimits {
  lower: number[];
  upper: number[];
  /** Largest joint speed, units per second, per joint (optional). */
  maxVelocity?: number[];
}

/** A robot that knows its joint limits exposes them as `jointLimits`. */
export interface ReportsJointLimits {
  readonly jointLimits: JointLimits;
}

export type SafetySettings = Config['safety'];

export type HoldReason = 'stale-frames' | 'reward-timeout' | 'actor-timeout';

export interface SafeStepResult extends StepResult {
  /** The action that reached the arm (possibly clipped), or null when nothing was forwarded. */
  applied: ArmAction | null;
  /** Why nothing was forwarded: e-stop, a hold, a refused action. */
  heldBy?: string;
}

export interface SafetyStatus {
  estopped: boolean;
  estopReason: string | null;
  holds: HoldReason[];
  onViolation: 'clip' | 'refuse';
  counts: { forwarded: number; clipped: number; refused: number; nonFinite: number; held: number };
}

/** Thrown by reset() while the e-stop is latched: only the operator may release it. */
export class EstopLatchedError extends Error {
  override readonly name = 'EstopLatchedError';
}

interface Deps {
  clock: Clock;
  events: EventStream;
  log: Logger;
}

const EVENT_INTERVAL_MS = 1000;

export class SafeRobot implements Robot {
  readonly name: string;
  readonly controlHz: number;
  readonly cameras: readonly FrameSource[];

  private latched = false;
  private latchCount = 0;
  private latchReason: string | null = null;
  private readonly holds = new Set<HoldReason>();
  private last: Observation | undefined;
  private previousJoints: { positions: number[]; stampMs: number } | undefined;

  private actorArmed = false;
  private lastActorAt = 0;
  private rewardPending = 0;
  private rewardWaitingSince: number | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;

  private readonly counts = { forwarded: 0, clipped: 0, refused: 0, nonFinite: 0, held: 0 };
  // Clipping or refusing every step would flood the event stream: one event per kind per second.
  private readonly throttle = new Map<EventKind, { at: number; suppressed: number }>();

  constructor(
    readonly inner: Robot,
    private readonly settings: SafetySettings,
    private readonly deps: Deps,
    private readonly jointLimits: JointLimits | undefined = (inner as Partial<ReportsJointLimits>).jointLimits,
  ) {
    this.name = inner.name;
    this.controlHz = inner.controlHz;
    this.cameras = inner.cameras;
  }

  get estopped(): boolean {
    return this.latched;
  }

  /** How many times the e-stop has latched: lets the run loop notice an e-stop it did not see. */
  get estopCount(): number {
    return this.latchCount;
  }

  status(): SafetyStatus {
    return {
      estopped: this.latched,
      estopReason: this.latchReason,
      holds: [...this.holds],
      onViolation: this.settings.onViolation,
      counts: { ...this.counts },
    };
  }

  async reset(seed?: number): Promise<Observation> {
    if (this.latched) throw new EstopLatchedError(`e-stop latched (${this.latchReason ?? 'unknown'}): reset it first`);
    const observation = await this.inner.reset(seed);
    this.remember(observation);
    this.previousJoints = undefined;
    this.release('stale-frames', 'new episode');
    this.release('actor-timeout', 'new episode');
    this.lastActorAt = this.deps.clock.now();
    return observation;
  }

  async observe(): Promise<Observation> {
    const observation = await this.inner.observe();
    this.remember(observation);
    return observation;
  }

  async act(action: ArmAction): Promise<SafeStepResult> {
    const now = this.deps.clock.now();
    const actorWasSilent = this.holds.has('actor-timeout');
    this.lastActorAt = now;

    if (this.latched) return this.hold('e-stop latched');
    if (actorWasSilent) {
      // The first action after a silent spell was computed from an old observation: drop it.
      this.release('actor-timeout', 'the actor is sending again (its first action was dropped)');
      return this.hold('actor was silent: first action dropped');
    }
    if (!isFinite(action)) {
      this.counts.nonFinite++;
      this.emitThrottled('non-finite', `action refused: ${describeAction(action)}`);
      return this.hold('non-finite action');
    }

    this.checkWatchdog();
    if (this.holds.has('stale-frames') || this.last === undefined) {
      // Stale frames may recover: look at the cameras again before deciding.
      const fresh = await this.observe();
      this.updateFrameHold(fresh);
    }
    if (this.holds.size > 0) return this.hold(`held: ${[...this.holds].join(', ')}`);

    const limited = this.limit(action, this.last!);
    if (limited.violations.length > 0) {
      if (this.settings.onViolation === 'refuse') {
        this.counts.refused++;
        this.emitThrottled('refused', `action refused: ${limited.violations.join('; ')}`);
        return this.hold('action out of bounds');
      }
      this.counts.clipped++;
      this.emitThrottled('clipped', `action clipped: ${limited.violations.join('; ')}`);
    }

    // Re-check the latch: an e-stop may have arrived while we awaited the cameras.
    if (this.latched) return this.hold('e-stop latched');
    this.counts.forwarded++;
    const result = await this.inner.act(limited.action);
    this.lastActorAt = this.deps.clock.now();
    this.remember(result.observation);
    this.checkJoints(result.observation);
    this.updateFrameHold(result.observation);
    return { ...result, applied: limited.action };
  }

  async stop(reason: string): Promise<void> {
    await this.estop('safety', reason);
  }

  async close(): Promise<void> {
    this.stopWatchdog();
    await this.inner.close();
  }

  // ---- e-stop ---------------------------------------------------------------------------------

  /**
   * Latches the e-stop (synchronously, so no action is forwarded after this call begins), then
   * stops the arm. Only resetEstop() releases it.
   */
  async estop(source: string, reason: string): Promise<void> {
    const already = this.latched;
    this.latched = true;
    this.actorArmed = false;
    if (!already) this.latchCount++;
    if (!already) this.latchReason = `${reason} (${source})`;
    this.deps.events.emit('estop', already ? `${reason} (already latched)` : reason, source);
    this.deps.log.warn(`E-STOP from ${source}: ${reason}`);
    try {
      await this.inner.stop(reason);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.deps.events.emit('fault', `robot.stop failed: ${message}`, 'safety');
      this.deps.log.error(`robot.stop failed during e-stop: ${message}`);
    }
  }

  /** Releases the latch; returns false when it was not latched. */
  resetEstop(source: string): boolean {
    if (!this.latched) return false;
    this.latched = false;
    this.latchReason = null;
    this.holds.delete('actor-timeout');
    this.deps.events.emit('estop-reset', 'e-stop released by the operator', source);
    this.deps.log.info(`e-stop released (${source})`);
    this.clearRewardHold(`reset by the operator (${source})`);
    return true;
  }

  /**
   * Records the reason of a latch that happened before its reason could be read (the HTTP
   * e-stop latches before its body arrives). `count` is estopCount right after that latch: a
   * later latch, or one that was already there, keeps its own reason.
   */
  describeLatch(count: number, reason: string, source: string): void {
    if (!this.latched || this.latchCount !== count) return;
    this.latchReason = `${reason} (${source})`;
    this.deps.events.emit('estop', `reason: ${reason}`, source);
  }

  // ---- watchdogs ------------------------------------------------------------------------------

  /** The actor is expected to send from now on (the run is running). */
  armActorWatchdog(): void {
    this.actorArmed = true;
    this.lastActorAt = this.deps.clock.now();
  }

  /** The actor is not expected to send (paused, stopped, between episodes). */
  disarmActorWatchdog(): void {
    this.actorArmed = false;
  }

  noteRewardRequest(): void {
    this.rewardPending++;
    this.rewardWaitingSince ??= this.deps.clock.now();
  }

  noteRewardAnswer(ok: boolean): void {
    this.rewardPending = Math.max(0, this.rewardPending - 1);
    if (!ok) return; // an error is not an answer: a model that keeps failing ends in a hold
    this.rewardWaitingSince = this.rewardPending > 0 ? this.deps.clock.now() : undefined;
    this.release('reward-timeout', 'the reward model answered');
  }

  /**
   * The operator restarts the reward watchdog (e-stop reset, run start): the hold is released and
   * a request still in flight gets a full timeout from now. A model still down holds again then.
   */
  clearRewardHold(detail: string): void {
    this.rewardWaitingSince = this.rewardPending > 0 ? this.deps.clock.now() : undefined;
    this.release('reward-timeout', detail);
  }

  /** Held because the reward model went silent: the run loop probes it until it answers. */
  get heldForReward(): boolean {
    return this.holds.has('reward-timeout');
  }

  /** Evaluates the time-based watchdogs (actor, reward model); run periodically and before each action. */
  checkWatchdog(): void {
    const now = this.deps.clock.now();
    if (this.actorArmed && !this.latched && now - this.lastActorAt > this.settings.actorTimeoutMs) {
      this.engage('actor-timeout', `no action for ${now - this.lastActorAt} ms (limit ${this.settings.actorTimeoutMs} ms)`);
    }
    if (this.rewardWaitingSince !== undefined && now - this.rewardWaitingSince > this.settings.rewardTimeoutMs) {
      this.engage(
        'reward-timeout',
        `reward model silent for ${now - this.rewardWaitingSince} ms (limit ${this.settings.rewardTimeoutMs} ms)`,
      );
    }
  }

  /** Runs checkWatchdog on a real timer (serve); tests call checkWatchdog directly with a manual clock. */
  startWatchdog(periodMs = 50): void {
    this.stopWatchdog();
    this.watchdogTimer = setInterval(() => this.checkWatchdog(), periodMs);
    this.watchdogTimer.unref();
  }

  stopWatchdog(): void {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  // ---- internals ------------------------------------------------------------------------------

  private async hold(why: string): Promise<SafeStepResult> {
    this.counts.held++;
    const observation = await this.inner.observe();
    this.remember(observation);
    return { observation, timeLimit: false, applied: null, heldBy: why };
  }

  private engage(reason: HoldReason, detail: string): void {
    if (this.holds.has(reason)) return;
    this.holds.add(reason);
    this.deps.events.emit('hold', `${reason}: ${detail}`, 'safety');
    this.deps.log.warn(`hold (${reason}): ${detail}`);
  }

  private release(reason: HoldReason, detail: string): void {
    if (!this.holds.delete(reason)) return;
    this.deps.events.emit('release', `${reason}: ${detail}`, 'safety');
    this.deps.log.info(`hold released (${reason}): ${detail}`);
  }

  private remember(observation: Observation): void {
    this.last = observation;
  }

  /**
   * Camera frames are stale when the newest one lags the arm's own clock by more than
   * staleFrameMs. Both stamps are in the robot's time base (simulation time, or ROS time), so
   * a paused run does not make frames look stale, and a dead camera on a live arm does.
   */
  private updateFrameHold(observation: Observation): void {
    const armStamp = observation.state.stampMs;
    const stale: string[] = [];
    for (const camera of this.cameras) {
      const frame = camera.latest();
      if (frame === undefined) stale.push(`${camera.camera}: no frame`);
      else if (armStamp - frame.stampMs > this.settings.staleFrameMs) stale.push(`${camera.camera}: ${armStamp - frame.stampMs} ms old`);
    }
    if (stale.length > 0) this.engage('stale-frames', `${stale.join(', ')} (limit ${this.settings.staleFrameMs} ms)`);
    else this.release('stale-frames', 'frames are fresh again');
  }

  private checkJoints(observation: Observation): void {
    const limits = this.jointLimits;
    if (!limits) return;
    const { jointPositions: positions, stampMs } = observation.state;
    const problems: string[] = [];
    positions.forEach((q, i) => {
      const low = limits.lower[i];
      const high = limits.upper[i];
      if (!Number.isFinite(q)) problems.push(`joint ${i} reads ${q}`);
      else if ((low !== undefined && q < low) || (high !== undefined && q > high)) problems.push(`joint ${i} at ${q.toFixed(4)} outside [${low}, ${high}]`);
    });
    const previous = this.previousJoints;
    if (limits.maxVelocity && previous && stampMs > previous.stampMs) {
      const dt = (stampMs - previous.stampMs) / 1000;
      positions.forEach((q, i) => {
        const speed = Math.abs(q - (previous.positions[i] ?? q)) / dt;
        const max = limits.maxVelocity![i];
        if (max !== undefined && speed > max) problems.push(`joint ${i} speed ${speed.toFixed(3)}/s above ${max}/s`);
      });
    }
    this.previousJoints = { positions: [...positions], stampMs };
    if (problems.length > 0) {
      this.deps.events.emit('joint-limit', problems.join('; '), 'safety');
      // Past a limit no policy action is trusted: stop and wait for the operator.
      void this.estop('safety', `joint limits: ${problems.join('; ')}`);
    }
  }

  /** Step caps first (translation norm, yaw), then the workspace box on the resulting target. */
  private limit(action: ArmAction, from: Observation): { action: ArmAction; violations: string[] } {
    const violations: string[] = [];
    const s = this.settings;
    let { dx, dy, dz, dyaw } = action;
    const norm = Math.hypot(dx, dy, dz);
    if (norm > s.maxStepM) {
      violations.push(`step ${norm.toFixed(4)} m above ${s.maxStepM} m`);
      const scale = s.maxStepM / norm;
      dx *= scale;
      dy *= scale;
      dz *= scale;
    }
    if (Math.abs(dyaw) > s.maxYawStepRad) {
      violations.push(`yaw step ${dyaw.toFixed(4)} rad above ${s.maxYawStepRad} rad`);
      dyaw = Math.sign(dyaw) * s.maxYawStepRad;
    }
    const position = from.state.eePosition;
    const delta = [dx, dy, dz];
    const axes = ['x', 'y', 'z'];
    for (let axis = 0; axis < 3; axis++) {
      const target = position[axis]! + delta[axis]!;
      const low = s.workspaceMin[axis]!;
      const high = s.workspaceMax[axis]!;
      if (target < low || target > high) {
        violations.push(`${axes[axis]} target ${target.toFixed(4)} outside [${low}, ${high}]`);
        delta[axis] = Math.min(high, Math.max(low, target)) - position[axis]!;
      }
    }
    let gripper = action.gripper;
    if (gripper < 0 || gripper > 1) {
      violations.push(`gripper ${gripper} outside [0, 1]`);
      gripper = Math.min(1, Math.max(0, gripper));
    }
    return { action: { dx: delta[0]!, dy: delta[1]!, dz: delta[2]!, dyaw, gripper }, violations };
  }

  private emitThrottled(kind: EventKind, detail: string): void {
    const now = this.deps.clock.now();
    const entry = this.throttle.get(kind);
    if (entry && now - entry.at < EVENT_INTERVAL_MS) {
      entry.suppressed++;
      return;
    }
    const suffix = entry && entry.suppressed > 0 ? ` (+${entry.suppressed} more in the last second)` : '';
    this.throttle.set(kind, { at: now, suppressed: 0 });
    this.deps.events.emit(kind, detail + suffix, 'safety');
  }
}

function isFinite(action: ArmAction): boolean {
  return [action.dx, action.dy, action.dz, action.dyaw, action.gripper].every((v) => typeof v === 'number' && Number.isFinite(v));
}

function describeAction(action: ArmAction): string {
  return `dx=${action.dx} dy=${action.dy} dz=${action.dz} dyaw=${action.dyaw} gripper=${action.gripper}`;
}
