/**
 * `dopamine ros2 smoke`: on a machine with ROS 2, checks the bridge end to end over the real
 * middleware, on topics of its own under /dopamine_smoke (nothing of the lab's is commanded):
 *
 * 1. cameras: three raw views (rgb8, bgr8 with padded rows, mono8) published with jittered stamps
 *    are subscribed, synchronised, decoded and resized by the bridge;
 * 2. compressed: a png sensor_msgs/CompressedImage on <topic>/compressed is decoded;
 * 3. arm: a JointState and a PoseStamped become the observed arm state;
 * 4. servo: an action goes out as the expected TwistStamped;
 * 5. progress: progress/hop/reward arrive as std_msgs/Float32; heartbeat: a DiagnosticArray arrives.
 *
 * It then reports, without failing, what the lab's graph offers for the configured robot: camera,
 * joint state and pose topics with their types, the trajectory and gripper action servers, the
 * e-stop service. The same function runs on the fake node in the tests.
 */
import type { Logger } from '../../common/log.js';
import type { Config } from '../../config/schema.js';
import { Ros2Cameras, cameraTopics } from './cameras.js';
import { jointState, rgbToCompressed, rgbToImage, ROS_TYPES, timeFromMs, type DiagnosticArrayMsg, type Float32Msg, type TwistStampedMsg } from './messages.js';
import type { RosNode } from './rclnodejs.js';
import { Ros2Robot } from './robot.js';

export interface SmokeCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SmokeReport {
  ok: boolean;
  checks: SmokeCheck[];
  /** What the lab's graph offers for the configured robot (informational). */
  lab: SmokeCheck[];
}

const PREFIX = '/dopamine_smoke';
const VALUES = [60, 130, 210];

async function waitFor<T>(get: () => T | undefined, timeoutMs: number, sleep: (ms: number) => Promise<void>): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = get();
    if (value !== undefined || Date.now() > deadline) return value;
    await sleep(10);
  }
}

function smokeConfig(config: Config, timeoutMs: number): Config {
  return {
    ...config,
    cameras: {
      ...config.cameras,
      width: 16,
      height: 12,
      views: [
        { role: 'front', name: 'dopamine_smoke/cam_high' },
        { role: 'left_wrist', name: 'dopamine_smoke/cam_left_wrist' },
        { role: 'right_wrist', name: 'dopamine_smoke/cam_right_wrist' },
      ],
      sync: { queueSize: 10, slopMs: 50 },
    },
    robot: {
      ...config.robot,
      ros2: {
        ...config.robot.ros2,
        cameraTransport: 'raw',
        imageTopic: 'image_raw',
        jointStatesTopic: `${PREFIX}/joint_states`,
        eePoseTopic: `${PREFIX}/ee_pose`,
        servoTwistTopic: `${PREFIX}/delta_twist_cmds`,
        topicPrefix: PREFIX,
        diagnosticsTopic: `${PREFIX}/diagnostics`,
        jointNames: ['j1', 'j2'],
        homePositions: undefined,
        serviceTimeoutMs: timeoutMs,
      },
    },
  };
}

export interface SmokeOptions {
  sleep?: (ms: number) => Promise<void>;
  /** How long each check waits for its messages, ms (default 3000). */
  timeoutMs?: number;
}

export async function runSmoke(node: RosNode, config: Config, log: Logger, options: SmokeOptions = {}): Promise<SmokeReport> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const timeoutMs = options.timeoutMs ?? 3000;
  const checks: SmokeCheck[] = [];
  const check = (name: string, ok: boolean, detail: string): void => {
    checks.push({ name, ok, detail });
    (ok ? log.info : log.error)(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  };
  const smoke = smokeConfig(config, timeoutMs);
  const robot = new Ros2Robot(node, smoke, { log: log.child('robot'), heartbeatTimer: false, sleep: async () => Promise.resolve() });
  const twists: TwistStampedMsg[] = [];
  const floats: Float32Msg[] = [];
  const beats: DiagnosticArrayMsg[] = [];
  node.createSubscription(ROS_TYPES.twistStamped, `${PREFIX}/delta_twist_cmds`, {}, (m) => twists.push(m as TwistStampedMsg));
  node.createSubscription(ROS_TYPES.float32, `${PREFIX}/progress`, {}, (m) => floats.push(m as Float32Msg));
  node.createSubscription(ROS_TYPES.diagnosticArray, `${PREFIX}/diagnostics`, {}, (m) => beats.push(m as DiagnosticArrayMsg));

  const topics = cameraTopics(smoke);
  const encodings = ['rgb8', 'bgr8', 'mono8'] as const;
  const imagePublishers = topics.map((t) => node.createPublisher(ROS_TYPES.image, t.image));
  const jointPublisher = node.createPublisher(ROS_TYPES.jointState, `${PREFIX}/joint_states`);
  const posePublisher = node.createPublisher('geometry_msgs/msg/PoseStamped', `${PREFIX}/ee_pose`);
  await sleep(300); // discovery

  // 1 + 3: cameras and arm state.
  const start = node.nowMs();
  for (let k = 0; k < 3; k++) {
    topics.forEach((topic, i) => {
      const size = { width: 32, height: 24, rgb: new Uint8Array(32 * 24 * 3).fill(VALUES[i]!) };
      imagePublishers[i]!.publish(rgbToImage(size, start + k * 100 + (i - 1) * 5, topic.camera, encodings[i], i === 1 ? 32 * 3 + 8 : undefined));
    });
    jointPublisher.publish(jointState(['j1', 'j2', smoke.robot.ros2.gripperJoint], [0.1, 0.2, smoke.robot.ros2.gripperOpenPosition], start + k * 100));
    posePublisher.publish({ header: { stamp: timeFromMs(start + k * 100), frame_id: 'base_link' }, pose: { position: { x: 0.5, y: 0, z: 0.3 }, orientation: { x: 0, y: 0, z: 0, w: 1 } } });
    await sleep(100);
  }
  try {
    const observation = await robot.observe();
    const colours = observation.frames.map((f) => f.rgb[0]);
    const expected = [VALUES[0], VALUES[1], Math.round(0.299 * VALUES[2]! + 0.587 * VALUES[2]! + 0.114 * VALUES[2]!)];
    check('cameras', colours.every((c, i) => c === expected[i]) && observation.frames.every((f) => f.width === 16 && f.height === 12), `views ${topics.map((t) => t.image).join(', ')} gave ${colours.join('/')}, expected ${expected.join('/')}`);
    const state = observation.state;
    check('arm state', state.jointPositions[0] === 0.1 && state.eePosition[2] === 0.3 && state.gripperOpening === 1, `joints ${state.jointPositions.join(', ')}, ee ${state.eePosition.join(', ')}, gripper ${state.gripperOpening}`);
  } catch (error) {
    check('cameras', false, (error as Error).message);
  }

  // 2: compressed images.
  const compressedConfig: Config = { ...smoke, cameras: { ...smoke.cameras, views: [{ role: 'front', name: 'dopamine_smoke/cam_compressed' }] }, robot: { ...smoke.robot, ros2: { ...smoke.robot.ros2, cameraTransport: 'compressed' } } };
  const compressedCameras = new Ros2Cameras(node, compressedConfig, log.child('compressed'));
  const compressedTopic = cameraTopics(compressedConfig)[0]!;
  const compressedPublisher = node.createPublisher(ROS_TYPES.compressedImage, compressedTopic.image);
  await sleep(200);
  compressedPublisher.publish(await rgbToCompressed({ width: 20, height: 10, rgb: new Uint8Array(600).fill(90) }, node.nowMs(), 'cam', 'png'));
  try {
    const [frame] = await compressedCameras.nextSet(timeoutMs);
    check('compressed', frame!.rgb[0] === 90, `${compressedTopic.image} decoded to ${frame!.rgb[0]}, expected 90`);
  } catch (error) {
    check('compressed', false, (error as Error).message);
  }

  // 4 + 5: commands and topics out.
  try {
    await robot.act({ dx: 0.01, dy: 0, dz: 0, dyaw: 0, gripper: 0 });
  } catch (error) {
    log.debug(`act: ${(error as Error).message}`); // the observation after the act; the twist is what is checked
  }
  const twist = await waitFor(() => twists[0], timeoutMs, sleep);
  const expectedX = 0.01 * smoke.robot.controlHz;
  check('servo twist', twist !== undefined && Math.abs(twist.twist.linear.x - expectedX) < 1e-9, twist === undefined ? 'no TwistStamped received' : `linear.x ${twist.twist.linear.x}, expected ${expectedX}`);
  robot.publishProgress({ progress: 0.25, hop: 0.05, reward: 0.01 });
  const progress = await waitFor(() => floats[0], timeoutMs, sleep);
  check('progress topics', progress?.data === 0.25, progress === undefined ? 'no Float32 received' : `progress ${progress.data}`);
  robot.heartbeat();
  const beat = await waitFor(() => beats[0], timeoutMs, sleep);
  check('heartbeat', beat !== undefined && beat.status.length === 1, beat === undefined ? 'no DiagnosticArray received' : `${beat.status[0]!.name}: ${beat.status[0]!.message}`);
  await robot.close();

  // The lab's graph, as configured (informational).
  const lab: SmokeCheck[] = [];
  const graph = new Map(node.topicNamesAndTypes().map((t) => [t.name, t.types]));
  const expectTopic = (topic: string, type: string): void => {
    const types = graph.get(topic);
    lab.push({ name: topic, ok: types?.includes(type) === true, detail: types === undefined ? 'not in the graph' : types.join(', ') });
  };
  const ros2 = config.robot.ros2;
  for (const t of cameraTopics(config)) {
    expectTopic(t.image, t.compressed ? ROS_TYPES.compressedImage : ROS_TYPES.image);
    expectTopic(t.info, ROS_TYPES.cameraInfo);
  }
  expectTopic(ros2.jointStatesTopic, ROS_TYPES.jointState);
  expectTopic(ros2.eePoseTopic, 'geometry_msgs/msg/PoseStamped');
  for (const [name, type] of [
    [ros2.trajectoryAction, ROS_TYPES.followJointTrajectory],
    [ros2.gripperAction, ROS_TYPES.gripperCommand],
  ] as const) {
    const ok = await node.createActionClient(type, name).waitForServer(1000);
    lab.push({ name, ok, detail: ok ? 'action server found' : 'no action server within 1 s' });
  }
  const estop = ros2.estopService ?? ros2.switchControllerService;
  const estopOk = await node.createClient(ros2.estopService === undefined ? ROS_TYPES.switchController : ROS_TYPES.trigger, estop).waitForService(1000);
  lab.push({ name: estop, ok: estopOk, detail: estopOk ? 'service found' : 'no service within 1 s' });
  return { ok: checks.every((c) => c.ok), checks, lab };
}
