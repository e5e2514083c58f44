/**
 * Launch descriptions: one YAML file that composes the nodes of a run (camera sync, reward,
 * actor, learner, safety, dashboard) for the simulator or a ROS 2 lab arm, on top of a run
 * configuration. Validated with zod; every error names the file and the key.
 *
 *   launch: 1
 *   name: lab-ur5e
 *   robot: ros2                 # sim | ros2
 *   config: ../lab.yaml         # optional run configuration, relative to this file
 *   settings: {...}             # optional configuration keys overlaid on it
 *   nodes:
 *     camera_sync: {queueSize: 10, slopMs: 40}
 *     reward: {backend: onnx}
 *     actor: {}
 *     learner: {updatesPerStep: 1}
 *     safety: {}                # always on; `enabled: false` is refused
 *     dashboard: {host: 0.0.0.0, port: 8080}
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { describeValue, InputError } from '../common/errors.js';
import { loadConfig, parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { cameraTopics } from '../robot/ros2/cameras.js';

const enabled = z.boolean().default(true).describe('Start this node.');

const nodes = z.strictObject({
  camera_sync: z
    .strictObject({ enabled, queueSize: z.number().int().positive().optional(), slopMs: z.number().nonnegative().optional() })
    .prefault({})
    .describe('ApproximateTime synchronisation of the camera views (cameras.sync).'),
  reward: z
    .strictObject({ enabled, backend: z.enum(['onnx', 'openai']).optional(), model: z.string().min(1).optional() })
    .prefault({})
    .describe('The process reward model (reward.backend, reward.model).'),
  actor: z.strictObject({ enabled }).prefault({}).describe('The policy acting at the control rate.'),
  learner: z.strictObject({ enabled, updatesPerStep: z.number().int().positive().optional() }).prefault({}).describe('Online SAC updates in the serve loop (policy.serve.updatesPerStep).'),
  safety: z
    .strictObject({ enabled: z.literal(true, { error: 'the safety layer cannot be switched off' }).default(true) })
    .prefault({})
    .describe('The safety layer in front of the arm: always on.'),
  dashboard: z
    .strictObject({ enabled, host: z.string().min(1).optional(), port: z.number().int().min(0).max(65535).optional() })
    .prefault({})
    .describe('Browser dashboard (dashboard.host, dashboard.port).'),
});

export const launchSchema = z.strictObject({
  launch: z.literal(1, { error: 'expected 1 (the launch file format version)' }),
  name: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . -'),
  robot: z.enum(['sim', 'ros2']),
  config: z.string().min(1).optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
  nodes: nodes.prefault({}),
});

export type LaunchDescription = z.output<typeof launchSchema>;
export type NodeName = keyof LaunchDescription['nodes'];
export const NODE_ORDER: NodeName[] = ['safety', 'camera_sync', 'reward', 'actor', 'learner', 'dashboard'];

function keyPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const p of path) node = typeof node === 'object' && node !== null ? (node as Record<PropertyKey, unknown>)[p as string] : undefined;
  return node;
}

/** Validates a parsed launch document; errors are `<file>: <key>: <what was expected>, got <value>`. */
export function parseLaunch(data: unknown, file: string): LaunchDescription {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new InputError(file, `expected a mapping with launch, name, robot and nodes, got ${describeValue(data)}`);
  const result = launchSchema.safeParse(data);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${keyPath([...issue.path, k])}: unknown key`).join('; ');
    const message = issue.message.replace(/^Invalid input: /, '').replace(/, received .*$/, '');
    return `${keyPath(issue.path)}: ${message}, got ${describeValue(valueAt(data, issue.path))}`;
  });
  throw new InputError(file, lines.join('; '));
}

export function readLaunch(file: string): LaunchDescription {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(file, `expected a readable launch file, got ${(error as NodeJS.ErrnoException).code ?? 'an error'}`);
  }
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) throw new InputError(file, `expected valid YAML, got a syntax error: ${doc.errors[0]!.message.split('\n')[0]}`);
  return parseLaunch(doc.toJS(), file);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isRecord(value) && isRecord(out[key]) ? deepMerge(out[key], value) : value;
  }
  return out;
}

/**
 * The run configuration a launch description stands for: its config file (or the defaults),
 * its settings, then what the nodes say, with robot.backend from `robot`.
 */
export function launchConfig(launch: LaunchDescription, file: string): Config {
  const base = launch.config === undefined ? loadConfig() : loadConfig(resolve(dirname(file), launch.config));
  const fromNodes: Record<string, unknown> = {
    robot: { backend: launch.robot },
    cameras: { sync: { ...pick(launch.nodes.camera_sync, ['queueSize', 'slopMs']) } },
    reward: pick(launch.nodes.reward, ['backend', 'model']),
    // A launch runs the serve loop: its learner's ratio is serve's.
    policy: { serve: pick(launch.nodes.learner, ['updatesPerStep']) },
    dashboard: pick(launch.nodes.dashboard, ['host', 'port']),
  };
  const merged = deepMerge(deepMerge(base as unknown as Record<string, unknown>, launch.settings ?? {}), fromNodes);
  return parseConfig(merged, `${file} (settings)`);
}

function pick(object: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => object[k] !== undefined).map((k) => [k, object[k]]));
}

export interface PlannedNode {
  node: NodeName | 'robot';
  enabled: boolean;
  what: string;
  /** ROS 2 topics, actions and services the node uses (ros2 only). */
  ros2?: { subscribes?: string[]; publishes?: string[]; actions?: string[]; services?: string[] };
}

export interface LaunchPlan {
  name: string;
  robot: 'sim' | 'ros2';
  config: Config;
  nodes: PlannedNode[];
}

/** What starts, in order, with its settings and (on ROS 2) its interfaces. */
export function launchPlan(launch: LaunchDescription, config: Config): LaunchPlan {
  const ros2 = config.robot.ros2;
  const onRos = launch.robot === 'ros2';
  const cameras = cameraTopics(config);
  const robotNode: PlannedNode = onRos
    ? {
        node: 'robot',
        enabled: true,
        what: `ROS 2 node ${ros2.nodeName}: arm at ${config.robot.controlHz} Hz through MoveIt Servo, gripper and trajectory actions`,
        ros2: {
          subscribes: [ros2.jointStatesTopic, ros2.eePoseTopic, `${ros2.topicPrefix.replace(/\/+$/, '')}/estop`],
          publishes: [ros2.servoTwistTopic, `${ros2.topicPrefix}/progress`, `${ros2.topicPrefix}/hop`, `${ros2.topicPrefix}/reward`, ros2.diagnosticsTopic],
          actions: [ros2.trajectoryAction, ros2.gripperAction],
          services: [ros2.estopService ?? ros2.switchControllerService],
        },
      }
    : { node: 'robot', enabled: true, what: `embedded simulator, task ${config.robot.task}, ${config.robot.controlHz} Hz, ${config.robot.episodeSeconds} s episodes` };
  const nodesOut: PlannedNode[] = [robotNode];
  for (const name of NODE_ORDER) {
    const enabledNode = launch.nodes[name].enabled;
    let what: string;
    let interfaces: PlannedNode['ros2'];
    switch (name) {
      case 'safety':
        what = `box [${config.safety.workspaceMin.join(', ')}]..[${config.safety.workspaceMax.join(', ')}] m, steps <= ${config.safety.maxStepM} m, ${config.safety.onViolation}, watchdogs`;
        break;
      case 'camera_sync':
        what = `${config.cameras.views.map((v) => `${v.role}=${v.name}`).join(', ')}; queue ${config.cameras.sync.queueSize}, slop ${config.cameras.sync.slopMs} ms; ${config.cameras.width}x${config.cameras.height}`;
        if (onRos) interfaces = { subscribes: cameras.flatMap((c) => [c.image, c.info]) };
        break;
      case 'reward':
        what = `${config.reward.backend} GRM${config.reward.model === undefined ? '' : ` ${config.reward.model}`}, fusion ${config.reward.fusion.mode}, shaping ${config.reward.shaping.mode} (gamma ${config.reward.shaping.gamma})`;
        break;
      case 'actor':
        what = `${config.policy.algorithm} actor, seed ${config.policy.seed}`;
        break;
      case 'learner':
        what = `${config.policy.algorithm}, batch ${config.policy.batchSize}, ${config.policy.serve.updatesPerStep} updates per step in the control period's slack, run folder ${config.policy.runDir}/serve`;
        break;
      case 'dashboard':
        what = `${config.dashboard.tls ? 'https' : 'http'}://${config.dashboard.host}:${config.dashboard.port}${config.dashboard.tls || !config.dashboard.insecure ? '' : ' (insecure: plain HTTP)'}`;
        break;
    }
    nodesOut.push({ node: name, enabled: enabledNode, what, ...(interfaces === undefined ? {} : { ros2: interfaces }) });
  }
  return { name: launch.name, robot: launch.robot, config, nodes: nodesOut };
}

export function planText(plan: LaunchPlan): string {
  const lines = [`launch ${plan.name} on ${plan.robot === 'sim' ? 'the embedded simulator' : 'ROS 2'}:`];
  plan.nodes.forEach((node, i) => {
    lines.push(`${String(i + 1).padStart(2)}. ${node.node.padEnd(12)} ${node.enabled ? '' : '(disabled) '}${node.what}`);
    for (const [kind, list] of Object.entries(node.ros2 ?? {})) if (list.length > 0) lines.push(`    ${kind}: ${list.join(', ')}`);
  });
  return lines.join('\n');
}
