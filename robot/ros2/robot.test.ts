import { describe, expect, it } from 'vitest';
import { createLogger } from '../../common/log.js';
import { configSchema, type ConfigInput } from '../../config/schema.js';
import { cameraTopics } from './cameras.js';
import { FakeRosNode } from './fake-node.js';
import { jointState, pinholeCameraInfo, rgbToCompressed, rgbToImage, timeFromMs, type DiagnosticArrayMsg, type TwistStampedMsg } from './messages.js';
import { INSTALL_HINT, startRosRuntime, tryLoadRclnodejs } from './rclnodejs.js';
import { Ros2Robot, yawFromQuaternion } from './robot.js';
import { startServing } from '../../launch/serve.js';

const log = createLogger('test', 'silent');

function config(ros2: NonNullable<ConfigInput['robot']>['ros2'] = {}, extra: ConfigInput = {}) {
  return configSchema.parse({
    ...extra,
    robot: { backend: 'ros2', controlHz: 10, episodeSeconds: 0.3, ros2: { jointNames: ['j1', 'j2'], ...ros2 } },
    cameras: { width: 16, height: 12, sync: { queueSize: 5, slopMs: 20 }, ...extra.cameras },
  });
}

/** A solid colour per view so the test can tell the views apart after decoding. */
function solid(width: number, height: number, value: number) {
  return { width, height, rgb: new Uint8Array(width * height * 3).fill(value) };
}

const VALUES = [40, 120, 200];

async function feedCameras(node: FakeRosNode, robotConfig: ReturnType<typeof config>, stampMs: number, jitter: number[] = [0, 0, 0]): Promise<void> {
  const topics = cameraTopics(robotConfig);
  for (const [i, topic] of topics.entries()) {
    const image = solid(32, 24, VALUES[i]!);
    const stamp = stampMs + jitter[i]!;
    const message = topic.compressed ? await rgbToCompressed(image, stamp, topic.camera, 'png') : rgbToImage(image, stamp, topic.camera, 'bgr8', 32 * 3 + 4);
    expect(node.deliver(topic.image, message)).toBe(1);
  }
}

function feedArm(node: FakeRosNode, stampMs: number): void {
  node.deliver('/joint_states', jointState(['j1', 'j2', 'gripper_joint'], [0.1, 0.2, 0.02], stampMs));
  const half = Math.PI / 8; // yaw pi/4
  node.deliver('/ee_pose', {
    header: { stamp: timeFromMs(stampMs), frame_id: 'base_link' },
    pose: { position: { x: 0.5, y: 0, z: 0.2 }, orientation: { x: 0, y: 0, z: Math.sin(half), w: Math.cos(half) } },
  });
}

async function settle(): Promise<void> {
  for (let k = 0; k < 20; k++) await new Promise((resolve) => setImmediate(resolve));
}

function makeRobot(node: FakeRosNode, robotConfig = config()): Ros2Robot {
  return new Ros2Robot(node, robotConfig, { log, sleep: async () => Promise.resolve(), heartbeatTimer: false });
}

describe('Ros2Robot on a fake node', () => {
  it('asks for the e-stop on any message on <prefix>/estop, and serve latches it', async () => {
    const node = new FakeRosNode();
    const robot = makeRobot(node, config({ topicPrefix: '/lab/' }));
    const asked: string[] = [];
    const unsubscribe = robot.onStopRequest((reason) => asked.push(reason));
    expect(node.deliver('/lab/estop', {})).toBe(1);
    expect(asked).toEqual(['remote e-stop on /lab/estop']);
    unsubscribe();
    node.deliver('/lab/estop', {});
    expect(asked).toHaveLength(1);

    const serving = await startServing(config(), log, { robot: makeRobot(node), agent: 'stand-in', autoStart: false });
    try {
      node.deliver('/dopamine/estop', {});
      expect(serving.loop.estopped).toBe(true);
      expect(serving.robot.status().estopReason).toBe('remote e-stop on /dopamine/estop (ros2)');
    } finally {
      await serving.shutdown('test done');
    }
  });

  it('turns the Joy deadman button into an intervention and Twists while it is held into teleop commands, and serve takes them', async () => {
    const teleop = { twistTopic: '/spacenav/twist', joyTopic: '/spacenav/joy', deadmanButton: 0, gripperButton: 1 };
    const node = new FakeRosNode();
    const robot = makeRobot(node, config({ teleop }));
    const events: unknown[] = [];
    robot.onTeleop((event) => events.push(event));
    const twist = (x: number) => ({ linear: { x, y: 0.02, z: -0.01 }, angular: { x: 0, y: 0, z: 0.3 } });
    node.deliver('/spacenav/twist', twist(0.05)); // not held: ignored
    node.deliver('/spacenav/joy', { axes: [], buttons: [1, 0] });
    node.deliver('/spacenav/twist', twist(0.05));
    node.deliver('/spacenav/joy', { axes: [], buttons: [1, 1] }); // gripper button pressed: toggles once
    node.deliver('/spacenav/joy', { axes: [], buttons: [1, 1] });
    node.deliver('/spacenav/twist', twist(0.1));
    node.deliver('/spacenav/joy', { axes: [], buttons: [0, 0] });
    node.deliver('/spacenav/twist', twist(0.1)); // released: ignored
    expect(events).toEqual([
      { kind: 'intervention', active: true, source: 'ros2 /spacenav/joy button 0' },
      { kind: 'teleop', command: { translation: [0.05, 0.02, -0.01], yaw: 0.3, gripper: 'open' } },
      { kind: 'teleop', command: { translation: [0.1, 0.02, -0.01], yaw: 0.3, gripper: 'closed' } },
      { kind: 'intervention', active: false, source: 'ros2 /spacenav/joy button 0' },
    ]);

    const servedNode = new FakeRosNode();
    const serving = await startServing(config({ teleop }), log, { robot: makeRobot(servedNode, config({ teleop })), agent: 'stand-in', autoStart: false });
    try {
      servedNode.deliver('/spacenav/joy', { axes: [], buttons: [1, 0] });
      expect(serving.loop.snapshot().intervention).toBe(true);
      expect(serving.events.recent().some((e) => e.kind === 'intervention' && e.source === 'ros2 /spacenav/joy button 0')).toBe(true);
      servedNode.deliver('/spacenav/joy', { axes: [], buttons: [0, 0] });
      expect(serving.loop.snapshot().intervention).toBe(false);
    } finally {
      await serving.shutdown('test done');
    }
  });

  it('subscribes to the configured views, camera_info siblings, joint states and pose', () => {
    const node = new FakeRosNode();
    makeRobot(node, config({ cameraTransport: 'compressed' }));
    const topics = node.subscriptions.map((s) => `${s.type} ${s.topic}`);
    expect(topics).toEqual([
      'sensor_msgs/msg/CompressedImage /cam_high/image_raw/compressed',
      'sensor_msgs/msg/CameraInfo /cam_high/camera_info',
      'sensor_msgs/msg/CompressedImage /cam_left_wrist/image_raw/compressed',
      'sensor_msgs/msg/CameraInfo /cam_left_wrist/camera_info',
      'sensor_msgs/msg/CompressedImage /cam_right_wrist/image_raw/compressed',
      'sensor_msgs/msg/CameraInfo /cam_right_wrist/camera_info',
      'sensor_msgs/msg/JointState /joint_states',
      'geometry_msgs/msg/PoseStamped /ee_pose',
      'std_msgs/msg/Empty /dopamine/estop',
    ]);
    expect(node.subscriptions[0]!.options.sensorData).toBe(true);
    expect(cameraTopics(config({ imageTopic: 'color/image_raw' }))[0]).toMatchObject({ image: '/cam_high/color/image_raw', info: '/cam_high/color/camera_info' });
  });

  for (const transport of ['raw', 'compressed'] as const) {
    it(`observes synchronised ${transport} frames at the model size, with the arm state`, async () => {
      const node = new FakeRosNode();
      const robotConfig = config({ cameraTransport: transport });
      const robot = makeRobot(node, robotConfig);
      feedArm(node, 1000);
      await feedCameras(node, robotConfig, 1000, [0, 7, -5]);
      await feedCameras(node, robotConfig, 1100, [2, -3, 4]);
      await settle();
      const observation = await robot.observe();
      expect(observation.frames.map((f) => [f.role, f.camera, f.width, f.height])).toEqual([
        ['front', 'cam_high', 16, 12],
        ['left_wrist', 'cam_left_wrist', 16, 12],
        ['right_wrist', 'cam_right_wrist', 16, 12],
      ]);
      observation.frames.forEach((frame, i) => {
        expect(frame.rgb.length).toBe(16 * 12 * 3);
        expect(frame.rgb.every((v) => v === VALUES[i])).toBe(true);
      });
      expect(observation.frames.map((f) => f.stampMs)).toEqual([1000, 1007, 995]);
      expect(observation.state.jointPositions).toEqual([0.1, 0.2]);
      expect(observation.state.gripperOpening).toBeCloseTo(0.25, 12);
      expect(observation.state.eePosition).toEqual([0.5, 0, 0.2]);
      expect(observation.state.eeYaw).toBeCloseTo(Math.PI / 4, 12);
      expect(robot.cameras.map((c) => c.latest()?.stampMs)).toEqual([1000, 1007, 995]);
      const stats = robot.cameraStats();
      expect(stats.views.map((v) => v.received)).toEqual([2, 2, 2]);
      expect(stats.sets).toBe(1);
    });
  }

  it('crops each view before resizing and checks camera_info against the image size', async () => {
    const node = new FakeRosNode();
    const robotConfig = config({}, { cameras: { views: [{ role: 'front', name: 'cam_high', crop: [16, 0, 16, 24] }] } });
    const robot = makeRobot(node, robotConfig);
    feedArm(node, 0);
    node.deliver('/cam_high/camera_info', pinholeCameraInfo(32, 24, 30, 0, 'cam_high'));
    const image = solid(32, 24, 0);
    for (let k = 0; k < image.rgb.length; k += 3) if ((k / 3) % 32 >= 16) image.rgb[k] = 255; // right half red
    node.deliver('/cam_high/image_raw', rgbToImage(image, 0, 'cam_high'));
    await settle();
    const { frames } = await robot.observe();
    expect(frames).toHaveLength(1);
    expect(frames[0]!.rgb.filter((_, k) => k % 3 === 0).every((v) => v === 255)).toBe(true);
    expect(robot.cameraStats().cameraInfo).toEqual([{ camera: 'cam_high', width: 32, height: 24, distortionModel: 'plumb_bob', matchesImage: true }]);
  });

  it('sends actions as MoveIt Servo twists and gripper goals outside the deadband', async () => {
    const node = new FakeRosNode();
    const robotConfig = config();
    const robot = makeRobot(node, robotConfig);
    feedArm(node, 0);
    await feedCameras(node, robotConfig, 0);
    await feedCameras(node, robotConfig, 100);
    await settle();
    const steps = [];
    steps.push(await robot.act({ dx: 0.01, dy: 0, dz: -0.02, dyaw: 0.05, gripper: 1 }));
    steps.push(await robot.act({ dx: 0, dy: 0.01, dz: 0, dyaw: 0, gripper: 0.95 }));
    steps.push(await robot.act({ dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: 0 }));
    const twists = node.messages<TwistStampedMsg>('/servo_node/delta_twist_cmds');
    expect(twists).toHaveLength(3);
    expect(twists[0]!.header.frame_id).toBe('base_link');
    expect(twists[0]!.twist.linear.x).toBeCloseTo(0.1, 12);
    expect(twists[0]!.twist.linear.z).toBeCloseTo(-0.2, 12);
    expect(twists[0]!.twist.angular.z).toBeCloseTo(0.5, 12);
    await settle();
    const gripperGoals = node.goals.filter((g) => g.action === '/gripper_controller/gripper_cmd').map((g) => (g.goal as { command: { position: number } }).command.position);
    expect(gripperGoals).toEqual([0, 0.08]); // 1 -> closed, 0.95 within the deadband, 0 -> open
    expect(steps.map((s) => s.timeLimit)).toEqual([false, false, true]); // 0.3 s at 10 Hz
  });

  it('e-stop: zero twist, controllers switched off, no motion until reset switches them back on', async () => {
    const node = new FakeRosNode();
    const robotConfig = config();
    const robot = makeRobot(node, robotConfig);
    feedArm(node, 0);
    await feedCameras(node, robotConfig, 0);
    await feedCameras(node, robotConfig, 100);
    await settle();
    await robot.stop('operator');
    const twists = node.messages<TwistStampedMsg>('/servo_node/delta_twist_cmds');
    expect(twists.at(-1)!.twist.linear).toEqual({ x: 0, y: 0, z: 0 });
    expect(node.serviceCalls).toEqual([
      {
        service: '/controller_manager/switch_controller',
        type: 'controller_manager_msgs/srv/SwitchController',
        request: expect.objectContaining({ activate_controllers: [], deactivate_controllers: ['joint_trajectory_controller', 'gripper_controller'] }) as unknown,
      },
    ]);
    const beat = node.messages<DiagnosticArrayMsg>('/diagnostics').at(-1)!;
    expect(beat.status[0]!.level).toBe(2);
    expect(beat.status[0]!.message).toBe('stopped: operator');
    await robot.act({ dx: 0.01, dy: 0, dz: 0, dyaw: 0, gripper: 1 });
    expect(node.messages('/servo_node/delta_twist_cmds')).toHaveLength(1);
    await robot.reset();
    expect(node.serviceCalls[1]!.request).toMatchObject({ activate_controllers: ['joint_trajectory_controller', 'gripper_controller'], deactivate_controllers: [] });
    await robot.act({ dx: 0.01, dy: 0, dz: 0, dyaw: 0, gripper: 1 });
    expect(node.messages('/servo_node/delta_twist_cmds')).toHaveLength(2);
  });

  it('e-stop through a configured std_srvs/Trigger service, and fails loudly when it is absent or refuses', async () => {
    const node = new FakeRosNode();
    const robot = makeRobot(node, config({ estopService: '/arm/estop', serviceTimeoutMs: 50 }));
    await robot.stop('watchdog');
    expect(node.serviceCalls.map((c) => [c.service, c.type])).toEqual([['/arm/estop', 'std_srvs/srv/Trigger']]);
    node.serviceResponses.set('/arm/estop', { success: false, message: 'busy' });
    await expect(robot.stop('again')).rejects.toThrow(/\/arm\/estop: e-stop refused: busy/);
    node.offline.add('/arm/estop');
    await expect(robot.stop('again')).rejects.toThrow(/\/arm\/estop: service not available within 50 ms/);
  });

  it('reset moves home through FollowJointTrajectory with the configured joints', async () => {
    const node = new FakeRosNode();
    const robotConfig = config({ homePositions: [0.3, -0.4], homeSeconds: 2.5 });
    const robot = makeRobot(node, robotConfig);
    feedArm(node, 0);
    await feedCameras(node, robotConfig, 0);
    await feedCameras(node, robotConfig, 100);
    await settle();
    await robot.reset();
    const goal = node.goals.find((g) => g.action === '/joint_trajectory_controller/follow_joint_trajectory')!;
    expect(goal.type).toBe('control_msgs/action/FollowJointTrajectory');
    expect(goal.goal).toMatchObject({ trajectory: { joint_names: ['j1', 'j2'], points: [{ positions: [0.3, -0.4], time_from_start: { sec: 2, nanosec: 500_000_000 } }] } });
    node.actionResults.set('/joint_trajectory_controller/follow_joint_trajectory', { error_code: -4, error_string: 'path tolerance' });
    await expect(robot.reset()).rejects.toThrow(/move home failed \(error_code -4: path tolerance\)/);
  });

  it('publishes progress, hop and reward as Float32 and a heartbeat that says what is missing', () => {
    const node = new FakeRosNode();
    const robot = makeRobot(node);
    robot.publishProgress({ progress: 0.5, hop: 0.125, reward: -0.25 });
    expect(node.messages('/dopamine/progress')).toEqual([{ data: 0.5 }]);
    expect(node.messages('/dopamine/hop')).toEqual([{ data: 0.125 }]);
    expect(node.messages('/dopamine/reward')).toEqual([{ data: -0.25 }]);
    const beat = robot.heartbeat();
    expect(beat.status[0]).toMatchObject({ level: 1, message: 'no joint states yet', name: 'dopamine: bridge' });
  });

  it('times out observe() when no camera set arrives', async () => {
    const node = new FakeRosNode();
    const robot = makeRobot(node, config({ serviceTimeoutMs: 30 }));
    await expect(robot.observe()).rejects.toThrow(/no synchronised set of \/cam_high\/image_raw/);
  });

  it('yaw from a quaternion', () => {
    expect(yawFromQuaternion({ x: 0, y: 0, z: 0, w: 1 })).toBe(0);
    expect(yawFromQuaternion({ x: 0, y: 0, z: 1, w: 0 })).toBeCloseTo(Math.PI, 12);
  });
});

describe('rclnodejs adapter', () => {
  it('fails at start with how to install rclnodejs when it is missing', async () => {
    const loaded = await tryLoadRclnodejs();
    if (loaded.module !== undefined) {
      console.log('rclnodejs is installed here: the missing-rclnodejs path is not exercised');
      return;
    }
    await expect(startRosRuntime('dopamine')).rejects.toThrow(INSTALL_HINT.slice(0, 40));
    await expect(startRosRuntime('dopamine')).rejects.toThrow(/robot\.backend ros2: .*Humble, Jazzy or Kilted.*npm install --no-save rclnodejs@2/);
  });
});
