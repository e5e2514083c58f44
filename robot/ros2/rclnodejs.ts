/**
 * The only file that touches rclnodejs. rclnodejs is optional (it must be built against a
 * sourced ROS 2, so it is not a dependency of the package): it is loaded with a dynamic import,
 * and everything above this file talks to the small `RosNode` interface below, which tests fake.
 */
import { InputError } from '../../common/errors.js';

/** The ROS 2 distributions rclnodejs 2 supports. */
export const SUPPORTED_DISTROS = ['humble', 'jazzy', 'kilted', 'rolling'] as const;

export const INSTALL_HINT =
  'rclnodejs is not available: on a machine with ROS 2 Humble, Jazzy or Kilted, source it ' +
  '(source /opt/ros/jazzy/setup.bash) and run `npm install --no-save rclnodejs@2` in the project folder ' +
  '(the simulator and recorded data need no ROS 2)';

export interface RosPublisher<T = unknown> {
  publish(message: T): void;
}

export interface RosServiceClient {
  waitForService(timeoutMs?: number): Promise<boolean>;
  sendRequest(request: unknown, callback: (response: unknown) => void): void;
}

export interface RosGoalHandle {
  isAccepted(): boolean;
  getResult(): Promise<unknown>;
}

export interface RosActionClient {
  waitForServer(timeoutMs?: number): Promise<boolean>;
  sendGoal(goal: unknown): Promise<RosGoalHandle>;
}

export interface SubscriptionOptions {
  /** Sensor-data QoS (best effort, shallow history) for camera streams. */
  sensorData?: boolean;
}

/** The subset of an rclnodejs Node the bridge uses (plus action clients, which rclnodejs builds from a node). */
export interface RosNode {
  createSubscription(type: string, topic: string, options: SubscriptionOptions, callback: (message: unknown) => void): unknown;
  createPublisher<T>(type: string, topic: string): RosPublisher<T>;
  createClient(type: string, service: string): RosServiceClient;
  createActionClient(type: string, action: string): RosActionClient;
  /** [name, types] of every topic the graph knows. */
  topicNamesAndTypes(): { name: string; types: string[] }[];
  /** Current ROS time, ms. */
  nowMs(): number;
  destroy(): void;
}

/** What `ros2 check` reports about the ROS 2 side of this machine. */
export interface Ros2Availability {
  available: boolean;
  rosDistro: string | null;
  distroSupported: boolean;
  rclnodejsVersion: string | null;
  /** Message, service and action types the bridge needs, and whether rclnodejs can load each. */
  interfaces: { type: string; available: boolean }[];
  problem: string | null;
}

interface RclnodejsModule {
  init(): Promise<void>;
  shutdown(): void;
  createNode(name: string): RclnodejsNode;
  spin(node: RclnodejsNode): void;
  require(type: string): unknown;
  ActionClient: new (node: RclnodejsNode, type: string, name: string) => RosActionClient;
  QoS: { profileSensorData: unknown; profileDefault: unknown };
}

interface RclnodejsNode {
  createSubscription(type: string, topic: string, options: object, callback: (message: unknown) => void): unknown;
  createPublisher(type: string, topic: string): RosPublisher;
  createClient(type: string, service: string): RosServiceClient;
  getTopicNamesAndTypes(): { name: string; types: string[] }[];
  now(): { nanoseconds: bigint | string | number };
  destroy(): void;
}

/** Loads rclnodejs, or undefined with the reason when it is missing or cannot load. */
export async function tryLoadRclnodejs(): Promise<{ module?: RclnodejsModule; version?: string; error?: string }> {
  // A variable specifier keeps TypeScript and bundlers from resolving the optional package.
  const specifier = 'rclnodejs';
  try {
    const imported = (await import(specifier)) as { default?: RclnodejsModule } & RclnodejsModule;
    const module = imported.default ?? imported;
    let version: string | undefined;
    try {
      const pkg = (await import(`${specifier}/package.json`, { with: { type: 'json' } })) as { default: { version: string } };
      version = pkg.default.version;
    } catch {
      version = undefined;
    }
    return version === undefined ? { module } : { module, version };
  } catch (error) {
    return { error: (error as Error).message.split('\n')[0] ?? 'cannot load' };
  }
}

export function rosDistro(env: NodeJS.ProcessEnv = process.env): string | null {
  const value = env.ROS_DISTRO;
  return value === undefined || value === '' ? null : value;
}

/** Checks rclnodejs, the sourced distribution and the interface types the bridge needs. */
export async function checkRos2(types: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Ros2Availability> {
  const distro = rosDistro(env);
  const distroSupported = distro !== null && (SUPPORTED_DISTROS as readonly string[]).includes(distro);
  const loaded = await tryLoadRclnodejs();
  if (loaded.module === undefined) {
    const sourced = distro === null ? 'no ROS 2 is sourced (ROS_DISTRO is unset)' : `ROS_DISTRO=${distro}`;
    return {
      available: false,
      rosDistro: distro,
      distroSupported,
      rclnodejsVersion: null,
      interfaces: types.map((type) => ({ type, available: false })),
      problem: `${INSTALL_HINT}; ${sourced}; loading rclnodejs said: ${loaded.error ?? 'unknown error'}`,
    };
  }
  const interfaces = types.map((type) => {
    try {
      loaded.module!.require(type);
      return { type, available: true };
    } catch {
      return { type, available: false };
    }
  });
  const missing = interfaces.filter((i) => !i.available).map((i) => i.type);
  let problem: string | null = null;
  if (!distroSupported) problem = `ROS_DISTRO ${distro ?? '(unset)'}: expected one of ${SUPPORTED_DISTROS.join(', ')}`;
  else if (missing.length > 0) {
    const packages = [...new Set(missing.map((type) => type.split('/')[0]!))];
    problem =
      `interfaces missing: ${missing.join(', ')}: install ${packages.map((p) => `ros-${distro}-${p.replace(/_/g, '-')}`).join(' ')} ` +
      'and regenerate the rclnodejs messages (npx generate-ros-messages)';
  }
  return { available: problem === null, rosDistro: distro, distroSupported, rclnodejsVersion: loaded.version ?? null, interfaces, problem };
}

export interface RosRuntime {
  node: RosNode;
  shutdown(): Promise<void>;
}

/**
 * Starts rclnodejs and one spinning node. Fails with the install hint (as an InputError naming
 * robot.backend, exit 2) when rclnodejs is missing.
 */
export async function startRosRuntime(nodeName: string): Promise<RosRuntime> {
  const loaded = await tryLoadRclnodejs();
  if (loaded.module === undefined) throw new InputError('robot.backend ros2', `${INSTALL_HINT} (loading rclnodejs said: ${loaded.error ?? 'unknown error'})`);
  const rcl = loaded.module;
  await rcl.init();
  const raw = rcl.createNode(nodeName);
  const node: RosNode = {
    createSubscription: (type, topic, options, callback) =>
      raw.createSubscription(type, topic, { enableTypedArray: true, ...(options.sensorData === true ? { qos: rcl.QoS.profileSensorData } : {}) }, callback),
    createPublisher: <T>(type: string, topic: string) => raw.createPublisher(type, topic) as RosPublisher<T>,
    createClient: (type, service) => raw.createClient(type, service),
    createActionClient: (type, action) => new rcl.ActionClient(raw, type, action),
    topicNamesAndTypes: () => raw.getTopicNamesAndTypes(),
    nowMs: () => Number(BigInt(raw.now().nanoseconds) / 1000n) / 1000,
    destroy: () => raw.destroy(),
  };
  rcl.spin(raw);
  return {
    node,
    shutdown: async () => {
      raw.destroy();
      rcl.shutdown();
      await Promise.resolve();
    },
  };
}

/** Calls a service with a deadline; rejects when the server is absent or silent. */
export async function callService(client: RosServiceClient, request: unknown, timeoutMs: number, name: string): Promise<unknown> {
  if (!(await client.waitForService(timeoutMs))) throw new Error(`${name}: service not available within ${timeoutMs} ms`);
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no response within ${timeoutMs} ms`)), timeoutMs);
    client.sendRequest(request, (response) => {
      clearTimeout(timer);
      resolve(response);
    });
  });
}
