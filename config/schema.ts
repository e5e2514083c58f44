/**
 * The run configuration: one YAML file, every key optional, defaults describe the embedded
 * simulator. Objects are strict, so a misspelled key is refused with its path instead of being
 * ignored. Each key's description feeds `dopamine config --reference` and the README.
 */
import { z } from 'zod';
import { urlCredentials } from './secrets.js';
import { DEFAULT_SUCCESS_WINDOW } from '../reward/completion.js';

const vec3 = z.tuple([z.number(), z.number(), z.number()]);
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name (letters, digits, _)');

const cameraView = z.strictObject({
  role: z.enum(['front', 'left_wrist', 'right_wrist']).describe('Role the reward model gives this view.'),
  name: z.string().min(1).describe('Camera name: video file stem in episodes (cam_high), topic prefix on ROS 2.'),
  crop: z
    .tuple([z.number().int().min(0), z.number().int().min(0), z.number().int().positive(), z.number().int().positive()])
    .optional()
    .describe('Optional crop [x, y, width, height] in source pixels, applied before resizing.'),
  cameraInfo: z.string().min(1).optional().describe('camera_info YAML of this camera (ROS camera_calibration_parsers layout; path relative to the working folder), checked by `dopamine calibrate check`.'),
});

export const cameraDefaults = [
  { role: 'front' as const, name: 'cam_high' },
  { role: 'left_wrist' as const, name: 'cam_left_wrist' },
  { role: 'right_wrist' as const, name: 'cam_right_wrist' },
];

const robot = z.strictObject({
  backend: z.enum(['sim', 'ros2']).default('sim').describe('sim: the embedded MuJoCo arm; ros2: a lab arm through rclnodejs.'),
  task: z.string().min(1).default('push-cube').describe('Task name (simulator tasks: `dopamine sim tasks`).'),
  controlHz: z.number().positive().max(1000).default(10).describe('Control rate of policy actions, Hz.'),
  episodeSeconds: z.number().positive().default(20).describe('Time limit of one episode, seconds.'),
  sim: z
    .strictObject({
      physicsStepS: z.number().positive().max(0.05).default(0.002).describe('MuJoCo physics time step, seconds.'),
      seed: z.number().int().min(0).default(0).describe('Seed of object poses and colours.'),
      realtime: z
        .boolean()
        .default(false)
        .describe('`serve` on the simulator: steps at robot.controlHz of the wall clock (true), or as fast as the machine allows (false: the learner then does policy.updatesPerStep updates before every action, as `dopamine rl` does). A lab arm always follows the control clock.'),
      layout: z
        .strictObject({
          seed: z.number().int().min(0).default(0).describe('Seed of the one layout every episode starts near (objects, colours, poses).'),
          spread: z
            .number()
            .min(0)
            .max(1)
            .describe('Fraction of each of the task\'s randomised ranges an episode may differ from the layout (0: the same scene every episode; 1: the full range).'),
        })
        .optional()
        .describe('A lab\'s reset: the same objects every episode, placed near one layout. Absent: every episode draws the task\'s full randomisation, colours included.'),
    })
    .prefault({})
    .describe('Embedded simulator.'),
  ros2: z
    .strictObject({
      jointStatesTopic: z.string().default('/joint_states').describe('sensor_msgs/JointState topic.'),
      servoTwistTopic: z.string().default('/servo_node/delta_twist_cmds').describe('MoveIt Servo geometry_msgs/TwistStamped topic.'),
      trajectoryAction: z
        .string()
        .default('/joint_trajectory_controller/follow_joint_trajectory')
        .describe('control_msgs/action/FollowJointTrajectory action.'),
      gripperAction: z.string().default('/gripper_controller/gripper_cmd').describe('control_msgs/action/GripperCommand action.'),
      estopService: z.string().optional().describe('std_srvs/Trigger service called on e-stop (else controllers are switched off).'),
      nodeName: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/).default('dopamine').describe('Name of the ROS 2 node the bridge creates.'),
      cameraTransport: z.enum(['raw', 'compressed']).default('raw').describe('raw: sensor_msgs/Image on /<camera>/<imageTopic>; compressed: sensor_msgs/CompressedImage on that topic + /compressed.'),
      imageTopic: z.string().min(1).default('image_raw').describe('Image topic under each camera name (/<camera>/image_raw); camera_info is its sibling /<camera>/camera_info.'),
      eePoseTopic: z.string().default('/ee_pose').describe('geometry_msgs/PoseStamped end-effector pose in the planning frame (relay it from tf if the arm does not publish it).'),
      planningFrame: z.string().default('base_link').describe('Frame of the servo twists and of the workspace bounds.'),
      jointNames: z.array(z.string().min(1)).optional().describe('Arm joints in order (default: the order of the first JointState).'),
      homePositions: z.array(z.number()).optional().describe('Joint positions reset() moves to through FollowJointTrajectory (none: reset does not move the arm).'),
      homeSeconds: z.number().positive().default(4).describe('Duration of the move home, seconds.'),
      gripperJoint: z.string().default('gripper_joint').describe('JointState name of the gripper (its position gives the opening).'),
      gripperOpenPosition: z.number().default(0.08).describe('GripperCommand position of the open gripper.'),
      gripperClosedPosition: z.number().default(0).describe('GripperCommand position of the closed gripper.'),
      gripperMaxEffort: z.number().nonnegative().default(40).describe('GripperCommand max_effort.'),
      gripperDeadband: z.number().min(0).max(1).default(0.1).describe('A new gripper goal is sent when the target changes by more than this.'),
      controllers: z
        .array(z.string().min(1))
        .default(['joint_trajectory_controller', 'gripper_controller'])
        .describe('Controllers the e-stop deactivates through controller_manager SwitchController.'),
      switchControllerService: z.string().default('/controller_manager/switch_controller').describe('controller_manager_msgs/SwitchController service.'),
      serviceTimeoutMs: z.number().int().positive().default(2000).describe('Wait for a service or action server at most this long, ms.'),
      topicPrefix: z.string().default('/dopamine').describe('Prefix of the progress, hop and reward topics (std_msgs/Float32).'),
      diagnosticsTopic: z.string().default('/diagnostics').describe('diagnostic_msgs/DiagnosticArray heartbeat topic.'),
      heartbeatHz: z.number().positive().max(100).default(1).describe('Heartbeat rate, Hz.'),
      teleop: z
        .strictObject({
          twistTopic: z.string().min(1).describe('geometry_msgs/Twist topic of the operator\'s SpaceMouse or joystick teleop node (m/s and rad/s in the planning frame; linear x, y, z and angular z are used).'),
          joyTopic: z.string().min(1).default('/joy').describe('sensor_msgs/Joy topic of the same device.'),
          deadmanButton: z.number().int().min(0).default(0).describe('Joy button that must be held for an intervention: pressed, the operator takes over; released, the policy has the arm again.'),
          gripperButton: z.number().int().min(0).default(1).describe('Joy button that toggles the gripper between open and closed during an intervention.'),
        })
        .optional()
        .describe('Operator interventions from ROS 2 (absent: the dashboard only).'),
    })
    .prefault({})
    .describe('Lab robot over ROS 2.'),
});

const cameras = z.strictObject({
  width: z.number().int().positive().max(4096).default(128).describe('Image width given to the reward model, pixels.'),
  height: z.number().int().positive().max(4096).default(96).describe('Image height given to the reward model, pixels.'),
  views: z.array(cameraView).min(1).max(3).default(cameraDefaults).describe('Cameras and their roles; missing wrist views repeat the front view.'),
  sync: z
    .strictObject({
      queueSize: z.number().int().positive().default(10).describe('ApproximateTime queue size per view.'),
      slopMs: z.number().nonnegative().default(50).describe('Largest stamp spread inside one synchronised set, ms.'),
    })
    .prefault({})
    .describe('Multi-view synchronisation.'),
});

const reward = z.strictObject({
  backend: z.enum(['onnx', 'openai']).default('onnx').describe('onnx: a GRM run by onnxruntime-node; openai: a GRM behind an OpenAI-compatible server.'),
  model: z.string().optional().describe('ONNX model file (default: the shipped GRM-tiny, or the adapted model of the task).'),
  labels: z
    .strictObject({
      sampleFactor: z.number().int().positive().default(20).describe('Raw frames per sample point (k).'),
      rounding: z.enum(['reference', 'floor']).default('reference').describe('Sample points per sub-task: round (reference code) or floor (paper).'),
    })
    .prefault({})
    .describe('Step-wise progress labels.'),
  fusion: z
    .strictObject({
      mode: z.enum(['paper', 'independent']).default('paper').describe('paper: Eq. 8 recursing on the fused value; independent: mean of three accumulated curves.'),
      consistency: z.boolean().default(true).describe('Consistency-weighted update (paper section 3.1.3; the paper uses it in simulation): the anchored estimates move the fused value only as far as they agree.'),
      alpha: z.number().nonnegative().default(20).describe('Consistency weight sharpness alpha.'),
      eps: z.number().positive().default(1e-3).describe('Epsilon of the consistency ratio (not given by the paper).'),
    })
    .prefault({})
    .describe('Multi-perspective progress fusion.'),
  shaping: z
    .strictObject({
      mode: z.enum(['pbrs', 'naive', 'sparse']).default('pbrs').describe('pbrs: policy-invariant shaping; naive: P(s\')-P(s) (semantic trap); sparse: success only.'),
      gamma: z.number().gt(0).max(1).default(0.99).describe('Discount (paper: 0.99 simulation, 0.98 real world).'),
      successDelta: z.number().min(0).max(1).default(0.05).describe('Success (source progress) when fused progress >= 1 - delta over successWindow scored steps in a row.'),
      successWindow: z
        .number()
        .int()
        .min(2)
        .max(1000)
        .default(DEFAULT_SUCCESS_WINDOW)
        .describe('Source progress: scored steps in a row (after the start state) whose fused progress must be >= 1 - successDelta before the task counts as done; never one frame. Used by rl, serve and score (docs/reward-model.md, "When is a task done?").'),
      success: z
        .enum(['progress', 'env', 'operator'])
        .optional()
        .describe(
          'Who judges success: progress (the reward model\'s completion judge), env (the simulator\'s predicate) or operator (a person). Absent: on the simulator the model only where every committed audit of its judgement confirmed >= 95% of its claims, else env (policy/success-source.ts); on a lab arm progress. `serve` and `dopamine rl` print which and why.',
        ),
      terminalPotential: z.number().min(0).max(1).default(0).describe('Potential of a terminal state that is not a success (failure, safety stop); 0 keeps the optimal policy.'),
      successPotential: z
        .number()
        .min(0)
        .max(1)
        .default(1)
        .describe('Potential of a successful terminal state (1: the goal\'s progress, so the success step pays r_success + gamma - P(s) instead of r_success - P(s); still policy-invariant, see reward/shaping.ts).'),
      potentialWeight: z
        .number()
        .min(0)
        .default(1)
        .describe('pbrs only: scale w of the potential, Phi = w P (w at the goal). Any w keeps the optimal policy; it sets how far the critic trusts the model (0: the sparse reward).'),
    })
    .prefault({})
    .describe('Reward shaping.'),
  adapt: z
    .strictObject({
      minVoc: z.number().min(-1).max(1).default(0.9).describe('Refuse to write an adapted model whose fused VOC on its demo (forward or reversed) is below this.'),
      steps: z.number().int().positive().default(1200).describe('Fine-tuning steps of one-shot adaptation.'),
      pairs: z.number().int().min(3).default(2000).describe('Pairs sampled from the demo (reference: 1000).'),
      variants: z
        .number()
        .int()
        .min(0)
        .max(32)
        .default(4)
        .describe('Appearance variants of the demo (hue-rotated, every other one mirrored) trained on besides the demo itself, so progress does not hinge on its colours and layout; 0: the demo only.'),
    })
    .prefault({})
    .describe('One-shot adaptation of GRM-tiny (`dopamine adapt`).'),
  openai: z
    .strictObject({
      url: z.string().default('http://127.0.0.1:8000/v1').describe('Base URL of the OpenAI-compatible server.'),
      model: z.string().default('Robo-Dopamine-GRM-3B').describe('Served model name.'),
      promptTemplate: z.string().optional().describe('Prompt template file (default: the project template).'),
      timeoutMs: z.number().int().positive().default(30_000).describe('Per-request timeout, ms.'),
      retries: z.number().int().min(0).max(10).default(2).describe('Retries after a failed request.'),
      concurrency: z.number().int().positive().max(256).default(4).describe('Requests in flight at once.'),
      temperature: z.number().min(0).max(2).default(0.1).describe('Sampling temperature (reference: 0.1).'),
    })
    .prefault({})
    .describe('OpenAI-compatible GRM server.'),
});

const policy = z.strictObject({
  algorithm: z.enum(['sac']).default('sac').describe('Learner algorithm.'),
  batchSize: z.number().int().positive().default(256).describe('Learner batch size.'),
  learningRate: z.number().positive().default(3e-4).describe('Learning rate of actor, critics and temperature.'),
  updatesPerStep: z.number().int().positive().default(2).describe('Gradient updates per environment step (update-to-data ratio).'),
  demos: z
    .union([z.number().int().min(0).max(100), z.array(z.string().min(1)).min(1)])
    .default(10)
    .describe(
      'Demos the policy starts from (cloned, then kept in the demo buffer). A number: scripted-expert demos on the simulator, which `serve` records at the first start of a run folder and `dopamine rl` per run (at most 20). A list: recorded episodes, MCAP files as `serve` records them (`serve/episodes/`) or folders of them; the successful ones are read at `serve`\'s first start (any robot; `dopamine rl` then records its default 10).',
    ),
  seed: z.number().int().min(0).default(1).describe('Seed of the learner and the actor.'),
  encoder: z
    .strictObject({
      model: z
        .string()
        .min(1)
        .optional()
        .describe('ONNX image encoder the policy reads every camera view with (docs/policy-encoder-contract.md); absent: the shipped models/policy-encoder.onnx.'),
    })
    .prefault({})
    .describe('The policy\'s visual encoder (frozen during RL).'),
  runDir: z.string().default('runs/default').describe('Folder of checkpoints, replay buffers and episodes (`serve` uses its `serve/` subfolder and resumes from it).'),
  serve: z
    .strictObject({
      updatesPerStep: z
        .number()
        .int()
        .min(0)
        .max(64)
        .default(1)
        .describe('Learner updates per control step in `serve`; they run between steps, one at a time, and a backlog beyond 50 steps is dropped (1 holds 10 Hz on 2 CPU cores).'),
      scoreEvery: z
        .number()
        .int()
        .positive()
        .default(1)
        .describe('Score every n-th control step with the reward model in `serve` (and each episode\'s last state); the learner gets the progress of states between two scored ones interpolated linearly.'),
      checkpointEvery: z.number().int().positive().default(5).describe('Checkpoint the `serve` learner after every n learned episodes (and at shutdown).'),
      operator: z
        .enum(['none', 'scripted'])
        .default('none')
        .describe('Simulator only: "scripted" lets the scripted expert take over for a few seconds when progress stalls, as a person at the dashboard would (interventions measured without a person).'),
      record: z
        .boolean()
        .default(true)
        .describe('Record every episode as an MCAP file in the run folder\'s `serve/episodes/` (cameras as JPEG, joint states, actions with their source, progress, episode markers): the dashboard replays them, Foxglove opens them, `policy.demos` and `score` read them.'),
      learner: z
        .strictObject({
          address: z
            .string()
            .regex(/^.+:\d{1,5}$/, 'expected host:port')
            .describe('host:port of `dopamine rl-learner` (docs/actor-learner-protocol.md).'),
          tokenFile: z.string().min(1).optional().describe('File holding the learner\'s token (rl-learner keeps it in <its run folder>/learner.token).'),
          tokenEnv: envName.default('DOPAMINE_LEARNER_TOKEN').describe('Environment variable holding the learner\'s token when tokenFile is absent.'),
          ca: z.string().min(1).optional().describe('PEM certificate to trust: talk TLS to a learner started with --tls-cert.'),
          actor: z
            .string()
            .regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/, 'expected letters, digits and _.:@- (at most 128, starting with a letter or digit)')
            .optional()
            .describe('The name under which the learner keeps this arm\'s episodes (default: <host>-<policy.runDir\'s folder name>); keep it when the run folder moves.'),
        })
        .optional()
        .describe('A learner in another process (`dopamine rl-learner`, e.g. on a GPU machine, or one learner for several arms): `serve` sends its demos and episodes there over gRPC and acts with the weights it fetches after each episode. Absent: the learner runs inside `serve`.'),
    })
    .prefault({})
    .describe('The online RL loop inside `dopamine serve`.'),
});

const safety = z.strictObject({
  workspaceMin: vec3.default([0.25, -0.3, 0.02]).describe('End-effector box, lower corner [x, y, z] metres.'),
  workspaceMax: vec3.default([0.75, 0.3, 0.45]).describe('End-effector box, upper corner [x, y, z] metres.'),
  maxStepM: z.number().positive().default(0.03).describe('Largest end-effector translation per control step, metres.'),
  maxYawStepRad: z.number().positive().default(0.1).describe('Largest yaw change per control step, radians.'),
  onViolation: z.enum(['clip', 'refuse']).default('clip').describe('Clip an out-of-bounds action, or refuse it and hold.'),
  staleFrameMs: z.number().int().positive().default(500).describe('Hold the arm when camera frames are older than this, ms.'),
  rewardTimeoutMs: z.number().int().positive().default(5000).describe('Hold the arm when the reward model has not answered for this long, ms.'),
  actorTimeoutMs: z.number().int().positive().default(1000).describe('Hold the arm when no action arrived for this long, ms.'),
});

const dashboard = z.strictObject({
  host: z
    .string()
    .default('127.0.0.1')
    .describe('Address the dashboard binds to. A non-loopback address needs dashboard.tls (or dashboard.insecure: true): see docs/security.md.'),
  port: z.number().int().min(0).max(65535).default(8080).describe('Dashboard port (0: any free port).'),
  token: z.string().min(16).optional().describe('Control token (default: a random one printed at start). Shown as *** by `dopamine config`; dashboard.tokenFile or dashboard.tokenEnv keep it out of the file.'),
  tokenFile: z.string().min(1).optional().describe('File whose first line is the control token (at least 16 characters), read at start; instead of dashboard.token.'),
  tokenEnv: envName.optional().describe('Environment variable holding the control token (at least 16 characters), read at start; instead of dashboard.token.'),
  cameraFps: z.number().positive().max(30).default(5).describe('Camera tile updates per second sent to each viewer (and to Foxglove).'),
  foxglovePort: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe('Serve the run to Foxglove on this port (Foxglove WebSocket protocol, read-only; on dashboard.host under the dashboard\'s TLS rule; 0: any free port). Absent: off. `dopamine serve --foxglove-port 8765` sets it.'),
  tls: z
    .strictObject({
      cert: z.string().min(1).describe('PEM certificate file (with its chain) the dashboard serves HTTPS with.'),
      key: z.string().min(1).describe('PEM private key file of that certificate.'),
    })
    .optional()
    .describe('Serve the dashboard over HTTPS (needed on a non-loopback address).'),
  insecure: z
    .boolean()
    .default(false)
    .describe('Allow plain HTTP on a non-loopback address: the control token crosses the network in clear text (a warning at every start).'),
});

const mqtt = z.strictObject({
  enabled: z.boolean().default(false).describe('Publish telemetry over MQTT 5.'),
  url: z.string().default('mqtt://127.0.0.1:1883').describe('Broker URL; mqtt://user:password@host:1883 works, but logs and `dopamine config` show the password as *** and mqtt.passwordFile or mqtt.passwordEnv keep it out of the file.'),
  username: z.string().min(1).optional().describe('Broker user name (instead of one in mqtt.url).'),
  passwordFile: z.string().min(1).optional().describe('File whose first line is the broker password, read at start; instead of a password in mqtt.url.'),
  passwordEnv: envName.optional().describe('Environment variable holding the broker password, read at start; instead of a password in mqtt.url.'),
  connectWaitMs: z
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(3000)
    .describe('At start, wait at most this long for the broker (connected, e-stop topic subscribed, retained e-stops applied) before the run may act; past it the run starts without the remote e-stop and says so. 0: do not wait.'),
  topicPrefix: z.string().min(1).default('dopamine').describe('Prefix of every telemetry topic (topics: docs/telemetry.md).'),
  progressHz: z.number().positive().max(50).default(2).describe('Largest rate of progress messages, per second.'),
});

const engine = z.strictObject({
  executionProvider: z.enum(['auto', 'cpu', 'cuda', 'webgpu']).default('auto').describe('onnxruntime execution provider; auto: CUDA when available, else the CPU; webgpu only when named.'),
  threads: z.number().int().min(0).default(0).describe('Intra-op threads (0: onnxruntime default).'),
});

export const configSchema = z
  .strictObject({
    robot: robot.prefault({}).describe('The arm: simulator or ROS 2.'),
    cameras: cameras.prefault({}).describe('Camera views and image size.'),
    reward: reward.prefault({}).describe('Reward model, progress and shaping.'),
    policy: policy.prefault({}).describe('Online RL.'),
    safety: safety.prefault({}).describe('Safety layer between policy and arm.'),
    dashboard: dashboard.prefault({}).describe('Browser dashboard.'),
    mqtt: mqtt.prefault({}).describe('MQTT telemetry.'),
    engine: engine.prefault({}).describe('Compute engine.'),
  })
  .superRefine((config, ctx) => {
    config.safety.workspaceMin.forEach((low, axis) => {
      if (low >= config.safety.workspaceMax[axis]!) {
        ctx.addIssue({
          code: 'custom',
          path: ['safety', 'workspaceMin', axis],
          message: `expected below safety.workspaceMax[${axis}] (${config.safety.workspaceMax[axis]}), got ${low}`,
        });
      }
    });
    // One source per secret, so it is never unclear which one is used.
    const tokenSources = (['token', 'tokenFile', 'tokenEnv'] as const).filter((key) => config.dashboard[key] !== undefined);
    if (tokenSources.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['dashboard', tokenSources[1]!],
        message: `expected at most one of dashboard.token, dashboard.tokenFile, dashboard.tokenEnv, got ${tokenSources.map((k) => `dashboard.${k}`).join(' and ')}`,
      });
    }
    const inUrl = urlCredentials(config.mqtt.url);
    const passwordSources = [
      ...(inUrl !== null && inUrl.password !== '' ? ['mqtt.url (user:password@)'] : []),
      ...(['passwordFile', 'passwordEnv'] as const).filter((key) => config.mqtt[key] !== undefined).map((key) => `mqtt.${key}`),
    ];
    if (passwordSources.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['mqtt', passwordSources[1]!.slice('mqtt.'.length)],
        message: `expected at most one of a password in mqtt.url, mqtt.passwordFile, mqtt.passwordEnv, got ${passwordSources.join(' and ')}`,
      });
    }
    if (inUrl !== null && inUrl.username !== '' && config.mqtt.username !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['mqtt', 'username'], message: 'expected the user name in mqtt.username or in mqtt.url, got both' });
    }
    // A timeout below one control period fires between every two actions: the arm would be held forever.
    const periodMs = 1000 / config.robot.controlHz;
    if (config.safety.actorTimeoutMs < periodMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['safety', 'actorTimeoutMs'],
        message: `expected at least the control period, ${Number(periodMs.toFixed(3))} ms (1000 / robot.controlHz ${config.robot.controlHz}), got ${config.safety.actorTimeoutMs}`,
      });
    }
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
