/**
 * A lab arm over ROS 2 as a Robot: the camera side (cameras.ts), sensor_msgs/JointState and a
 * geometry_msgs/PoseStamped end-effector pose in, policy actions out as MoveIt Servo twists and
 * GripperCommand goals, the move home through FollowJointTrajectory, the e-stop through a
 * std_srvs/Trigger service or controller_manager SwitchController, progress/hop/reward on
 * std_msgs/Float32 topics and a diagnostic_msgs heartbeat; a std_msgs/Empty on <prefix>/estop
 * asks for the e-stop (onStopRequest). The safety layer wraps this robot; nothing here decides
 * whether an action is safe.
 */
import type { Logger } from '../../common/log.js';
import type { Config } from '../../config/schema.js';
import type { ArmAction, ArmState, Observation, Robot, StepResult, TeleopCommand } from '../types.js';
import { Ros2Cameras, type CameraStats } from './cameras.js';
import {
  actionToTwist,
  DIAGNOSTIC_LEVEL,
  diagnosticArray,
  followJointTrajectoryGoal,
  gripperGoal,
  jointTrajectory,
  msFromTime,
  parseJointState,
  ROS_TYPES,
  switchOffControllers,
  zeroTwist,
  type DiagnosticArrayMsg,
  type DiagnosticLevel,
  type Float32Msg,
  type JointReading,
  type JointStateMsg,
  type TwistStampedMsg,
} from './messages.js';
import { callService, startRosRuntime, type RosActionClient, type RosNode, type RosPublisher, type RosServiceClient } from './rclnodejs.js';

export interface PoseStampedMsg {
  header: { stamp: { sec: number; nanosec: number }; frame_id: string };
  pose: { position: { x: number; y: number; z: number }; orientation: { x: number; y: number; z: number; w: number } };
}

export function yawFromQuaternion(q: { x: number; y: number; z: number; w: number }): number {
  return Math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z));
}

export interface Ros2RobotDeps {
  log: Logger;
  /** Waits between control steps (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
  /** Wall clock, ms, for pacing and sync statistics (default Date.now). */
  now?: () => number;
  /** Start the heartbeat timer (default true; tests call heartbeat() themselves). */
  heartbeatTimer?: boolean;
  /** Runs after close() (shuts rclnodejs down). */
  onClose?: () => Promise<void>;
}

/** What the operator's ROS 2 teleop device asks of the run (onTeleop). */
export type Ros2TeleopEvent = { kind: 'intervention'; active: boolean; source: string } | { kind: 'teleop'; command: TeleopCommand };

/** Values the run loop publishes every step. */
export interface ProgressReport {
  progress: number;
  hop?: number;
  reward?: number;
}

export class Ros2Robot implements Robot {
  readonly name: string;
  readonly controlHz: number;
  readonly cameras;
  private readonly ros2: Config['robot']['ros2'];
  private readonly camerasSide: Ros2Cameras;
  private readonly twist: RosPublisher<TwistStampedMsg>;
  private readonly progressTopics: { progress: RosPublisher<Float32Msg>; hop: RosPublisher<Float32Msg>; reward: RosPublisher<Float32Msg> };
  private readonly diagnostics: RosPublisher<DiagnosticArrayMsg>;
  private readonly trajectoryClient: RosActionClient;
  private readonly gripperClient: RosActionClient;
  private readonly estopClient: RosServiceClient;
  private readonly estopKind: 'trigger' | 'switch';
  private joints: JointReading | undefined;
  private pose: PoseStampedMsg | undefined;
  private jointWaiters: (() => void)[] = [];
  private lastGripperTarget: number | undefined;
  private stopped: string | null = null;
  private controllersOff = false;
  private steps = 0;
  private readonly episodeSteps: number;
  private lastActMs: number | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly onClose: (() => Promise<void>) | undefined;
  private readonly stopListeners = new Set<(reason: string) => void>();
  private readonly teleopListeners = new Set<(event: Ros2TeleopEvent) => void>();
  private teleopHeld = false;
  private teleopGripperClosed = false;
  private gripperButtonDown = false;

  constructor(
    private readonly node: RosNode,
    config: Config,
    deps: Ros2RobotDeps,
  ) {
    this.ros2 = config.robot.ros2;
    this.log = deps.log;
    this.name = `ros2:${this.ros2.nodeName}`;
    this.controlHz = config.robot.controlHz;
    this.episodeSteps = Math.max(1, Math.round(config.robot.episodeSeconds * config.robot.controlHz));
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = deps.now ?? Date.now;
    this.onClose = deps.onClose;
    this.camerasSide = new Ros2Cameras(node, config, deps.log.child('cameras'), this.now);
    this.cameras = this.camerasSide.sources;

    node.createSubscription(ROS_TYPES.jointState, this.ros2.jointStatesTopic, {}, (message) => {
      try {
        this.joints = parseJointState(message as JointStateMsg, this.ros2.jointStatesTopic);
      } catch (error) {
        this.log.warn((error as Error).message);
        return;
      }
      const waiters = this.jointWaiters;
      this.jointWaiters = [];
      for (const wake of waiters) wake();
    });
    node.createSubscription('geometry_msgs/msg/PoseStamped', this.ros2.eePoseTopic, {}, (message) => {
      this.pose = message as PoseStampedMsg;
    });
    this.twist = node.createPublisher(ROS_TYPES.twistStamped, this.ros2.servoTwistTopic);
    const prefix = this.ros2.topicPrefix.replace(/\/+$/, '');
    this.progressTopics = {
      progress: node.createPublisher(ROS_TYPES.float32, `${prefix}/progress`),
      hop: node.createPublisher(ROS_TYPES.float32, `${prefix}/hop`),
      reward: node.createPublisher(ROS_TYPES.float32, `${prefix}/reward`),
    };
    this.diagnostics = node.createPublisher(ROS_TYPES.diagnosticArray, this.ros2.diagnosticsTopic);
    // The lab's own stop buttons and nodes: any message on <prefix>/estop asks for the e-stop
    // (std_msgs/Empty: there is no content that could say "do not stop").
    const estopTopic = `${prefix}/estop`;
    node.createSubscription(ROS_TYPES.empty, estopTopic, {}, () => {
      for (const listener of this.stopListeners) listener(`remote e-stop on ${estopTopic}`);
    });
    if (this.ros2.teleop) this.subscribeTeleop(node, this.ros2.teleop);
    this.trajectoryClient = node.createActionClient(ROS_TYPES.followJointTrajectory, this.ros2.trajectoryAction);
    this.gripperClient = node.createActionClient(ROS_TYPES.gripperCommand, this.ros2.gripperAction);
    this.estopKind = this.ros2.estopService === undefined ? 'switch' : 'trigger';
    this.estopClient =
      this.ros2.estopService === undefined
        ? node.createClient(ROS_TYPES.switchController, this.ros2.switchControllerService)
        : node.createClient(ROS_TYPES.trigger, this.ros2.estopService);
    if (deps.heartbeatTimer !== false) {
      this.timer = setInterval(() => this.heartbeat(), 1000 / this.ros2.heartbeatHz);
      this.timer.unref();
    }
  }

  async reset(): Promise<Observation> {
    if (this.controllersOff) {
      // The e-stop switched the controllers off; the operator's reset switches them back on.
      await callService(
        this.estopClient,
        { ...switchOffControllers([], this.ros2.serviceTimeoutMs / 1000), activate_controllers: [...this.ros2.controllers] },
        this.ros2.serviceTimeoutMs,
        this.ros2.switchControllerService,
      );
      this.controllersOff = false;
    }
    this.stopped = null;
    this.steps = 0;
    this.lastGripperTarget = undefined;
    if (this.ros2.homePositions !== undefined) await this.moveHome(this.ros2.homePositions);
    return await this.observe();
  }

  async act(action: ArmAction): Promise<StepResult> {
    if (this.stopped === null) {
      this.twist.publish(actionToTwist(action, this.controlHz, this.node.nowMs(), this.ros2.planningFrame));
      this.sendGripper(action.gripper);
    }
    // Hold the control rate: the twist is a velocity over one period.
    const period = 1000 / this.controlHz;
    const now = this.now();
    const wait = this.lastActMs === undefined ? period : Math.max(0, this.lastActMs + period - now);
    await this.sleep(wait);
    this.lastActMs = this.now();
    this.steps += 1;
    const observation = await this.observe();
    return { observation, timeLimit: this.steps >= this.episodeSteps };
  }

  async observe(): Promise<Observation> {
    const frames = await this.camerasSide.nextSet(this.ros2.serviceTimeoutMs);
    const state = await this.armState();
    return { state, frames };
  }

  async stop(reason: string): Promise<void> {
    this.stopped = reason;
    this.twist.publish(zeroTwist(this.node.nowMs(), this.ros2.planningFrame));
    this.log.warn(`stop: ${reason}`);
    if (this.estopKind === 'trigger') {
      const response = (await callService(this.estopClient, {}, this.ros2.serviceTimeoutMs, this.ros2.estopService!)) as { success?: boolean; message?: string };
      if (response.success === false) throw new Error(`${this.ros2.estopService}: e-stop refused: ${response.message ?? ''}`);
    } else {
      const response = (await callService(this.estopClient, switchOffControllers(this.ros2.controllers, this.ros2.serviceTimeoutMs / 1000), this.ros2.serviceTimeoutMs, this.ros2.switchControllerService)) as { ok?: boolean };
      this.controllersOff = true;
      if (response.ok === false) throw new Error(`${this.ros2.switchControllerService}: controllers ${this.ros2.controllers.join(', ')} were not switched off`);
    }
    this.heartbeat();
  }

  /** Calls `listener` for every e-stop asked for over ROS 2; `serve` latches the safety layer's e-stop with it. */
  onStopRequest(listener: (reason: string) => void): () => void {
    this.stopListeners.add(listener);
    return () => this.stopListeners.delete(listener);
  }

  /**
   * Calls `listener` when the operator's deadman button is pressed or released on the configured
   * sensor_msgs/Joy topic, and for each geometry_msgs/Twist while it is held; `serve` turns these
   * into interventions and teleop commands (launch/teleop.ts).
   */
  onTeleop(listener: (event: Ros2TeleopEvent) => void): () => void {
    this.teleopListeners.add(listener);
    return () => this.teleopListeners.delete(listener);
  }

  private subscribeTeleop(node: RosNode, teleop: NonNullable<Config['robot']['ros2']['teleop']>): void {
    const emit = (event: Ros2TeleopEvent): void => {
      for (const listener of this.teleopListeners) listener(event);
    };
    node.createSubscription(ROS_TYPES.joy, teleop.joyTopic, {}, (message) => {
      const buttons = (message as { buttons?: ArrayLike<number> }).buttons ?? [];
      const held = (buttons[teleop.deadmanButton] ?? 0) > 0;
      const gripper = (buttons[teleop.gripperButton] ?? 0) > 0;
      if (held && gripper && !this.gripperButtonDown) this.teleopGripperClosed = !this.teleopGripperClosed;
      this.gripperButtonDown = gripper;
      if (held !== this.teleopHeld) {
        this.teleopHeld = held;
        emit({ kind: 'intervention', active: held, source: `ros2 ${teleop.joyTopic} button ${teleop.deadmanButton}` });
      }
    });
    node.createSubscription(ROS_TYPES.twist, teleop.twistTopic, {}, (message) => {
      if (!this.teleopHeld) return;
      const twist = message as { linear?: { x?: number; y?: number; z?: number }; angular?: { z?: number } };
      const { x = 0, y = 0, z = 0 } = twist.linear ?? {};
      emit({ kind: 'teleop', command: { translation: [x, y, z], yaw: twist.angular?.z ?? 0, gripper: this.teleopGripperClosed ? 'closed' : 'open' } });
    });
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.twist.publish(zeroTwist(this.node.nowMs(), this.ros2.planningFrame));
    await this.onClose?.();
  }

  /** Publishes progress, hop and reward (std_msgs/Float32) for RViz, Foxglove and rosbag. */
  publishProgress(report: ProgressReport): void {
    this.progressTopics.progress.publish({ data: report.progress });
    if (report.hop !== undefined) this.progressTopics.hop.publish({ data: report.hop });
    if (report.reward !== undefined) this.progressTopics.reward.publish({ data: report.reward });
  }

  /** Camera synchronisation counters, per view (for the dashboard). */
  cameraStats(): CameraStats {
    return this.camerasSide.stats();
  }

  /** One diagnostic_msgs heartbeat: OK, WARN when frames or joints are missing, ERROR when stopped. */
  heartbeat(): DiagnosticArrayMsg {
    const stats = this.camerasSide.stats();
    let level: DiagnosticLevel = DIAGNOSTIC_LEVEL.OK;
    let message = 'running';
    if (this.stopped !== null) {
      level = DIAGNOSTIC_LEVEL.ERROR;
      message = `stopped: ${this.stopped}`;
    } else if (this.joints === undefined || this.camerasSide.latest() === undefined) {
      level = DIAGNOSTIC_LEVEL.WARN;
      message = this.joints === undefined ? 'no joint states yet' : 'no synchronised camera set yet';
    }
    const values: Record<string, string | number | boolean> = { steps: this.steps, stopped: this.stopped !== null, syncedSets: stats.sets };
    for (const view of stats.views) values[`${view.view}.rateHz`] = view.rateHz.toFixed(1);
    const msg = diagnosticArray(this.node.nowMs(), { level, name: `${this.ros2.nodeName}: bridge`, message, hardwareId: this.ros2.nodeName, values });
    this.diagnostics.publish(msg);
    return msg;
  }

  private sendGripper(target: number): void {
    if (this.lastGripperTarget !== undefined && Math.abs(target - this.lastGripperTarget) <= this.ros2.gripperDeadband) return;
    this.lastGripperTarget = target;
    const goal = gripperGoal(target, this.ros2.gripperOpenPosition, this.ros2.gripperClosedPosition, this.ros2.gripperMaxEffort);
    // Not awaited: the gripper moves while the arm keeps its control rate.
    this.gripperClient.sendGoal(goal).then(
      (handle) => {
        if (!handle.isAccepted()) this.log.warn(`${this.ros2.gripperAction}: goal ${goal.command.position} rejected`);
      },
      (error: unknown) => this.log.warn(`${this.ros2.gripperAction}: ${(error as Error).message}`),
    );
  }

  private async moveHome(positions: number[]): Promise<void> {
    const names = this.ros2.jointNames ?? (await this.waitJoints()).names.filter((n) => n !== this.ros2.gripperJoint);
    if (names.length !== positions.length) {
      throw new Error(`robot.ros2.homePositions: expected ${names.length} positions for joints ${names.join(', ')}, got ${positions.length}`);
    }
    const action = this.ros2.trajectoryAction;
    if (!(await this.trajectoryClient.waitForServer(this.ros2.serviceTimeoutMs))) throw new Error(`${action}: action server not available within ${this.ros2.serviceTimeoutMs} ms`);
    const handle = await this.trajectoryClient.sendGoal(followJointTrajectoryGoal(jointTrajectory(names, positions, this.ros2.homeSeconds)));
    if (!handle.isAccepted()) throw new Error(`${action}: move home rejected`);
    const result = (await withTimeout(handle.getResult(), this.ros2.homeSeconds * 1000 + this.ros2.serviceTimeoutMs, `${action}: move home`)) as {
      error_code?: number;
      error_string?: string;
    };
    if (result.error_code !== undefined && result.error_code !== 0) throw new Error(`${action}: move home failed (error_code ${result.error_code}: ${result.error_string ?? ''})`);
  }

  private async waitJoints(): Promise<JointReading> {
    if (this.joints !== undefined) return this.joints;
    await withTimeout(new Promise<void>((resolve) => this.jointWaiters.push(resolve)), this.ros2.serviceTimeoutMs, `${this.ros2.jointStatesTopic}: no JointState`);
    return this.joints!;
  }

  private async armState(): Promise<ArmState> {
    const joints = await this.waitJoints();
    const gripperIndex = joints.names.indexOf(this.ros2.gripperJoint);
    const { gripperOpenPosition: open, gripperClosedPosition: closed } = this.ros2;
    const opening = gripperIndex < 0 || open === closed ? Number.NaN : (joints.positions[gripperIndex]! - closed) / (open - closed);
    const armNames = this.ros2.jointNames ?? joints.names.filter((n) => n !== this.ros2.gripperJoint);
    const jointPositions = armNames.map((name) => {
      const k = joints.names.indexOf(name);
      return k < 0 ? Number.NaN : joints.positions[k]!;
    });
    const pose = this.pose;
    return {
      // No pose yet: NaN, which the safety layer treats as unknown rather than a place in the box.
      eePosition: pose === undefined ? [Number.NaN, Number.NaN, Number.NaN] : [pose.pose.position.x, pose.pose.position.y, pose.pose.position.z],
      eeYaw: pose === undefined ? Number.NaN : yawFromQuaternion(pose.pose.orientation),
      gripperOpening: Number.isNaN(opening) ? Number.NaN : Math.min(1, Math.max(0, opening)),
      jointPositions,
      stampMs: pose === undefined ? joints.stampMs : Math.max(joints.stampMs, msFromTime(pose.header.stamp)),
    };
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Creates the ROS 2 robot with a real rclnodejs node (fails with the install hint without rclnodejs). */
export async function createRos2Robot(config: Config, log: Logger): Promise<Ros2Robot> {
  const runtime = await startRosRuntime(config.robot.ros2.nodeName);
  return new Ros2Robot(runtime.node, config, { log, onClose: runtime.shutdown });
}
