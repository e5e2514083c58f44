/**
 * An in-memory stand-in for the part of an rclnodejs node the bridge uses (RosNode): tests deliver
 * messages to subscriptions, read what was published, and script service and action servers.
 * Every message crosses a CDR encode/decode when its type has a definition here, so the bridge is
 * exercised with what the wire would carry.
 */
import { cdrCodec, messageText } from './definitions.js';
import type { RosActionClient, RosGoalHandle, RosNode, RosPublisher, RosServiceClient, SubscriptionOptions } from './rclnodejs.js';

export interface FakeSubscription {
  type: string;
  topic: string;
  options: SubscriptionOptions;
  callback: (message: unknown) => void;
}

export interface FakeServiceCall {
  service: string;
  type: string;
  request: unknown;
}

export interface FakeGoal {
  action: string;
  type: string;
  goal: unknown;
}

function hasDefinition(type: string): boolean {
  try {
    messageText(type);
    return true;
  } catch {
    return false;
  }
}

/** Encodes and decodes through CDR when the type is defined in robot/ros2/interfaces. */
function overTheWire(type: string, message: unknown): unknown {
  if (!hasDefinition(type)) return message;
  const codec = cdrCodec(type);
  return codec.decode(codec.encode(message));
}

export class FakeRosNode implements RosNode {
  readonly subscriptions: FakeSubscription[] = [];
  readonly published = new Map<string, { type: string; messages: unknown[] }>();
  readonly serviceCalls: FakeServiceCall[] = [];
  readonly goals: FakeGoal[] = [];
  /** Scripted service responses by service name (default: {success: true} / {ok: true}). */
  readonly serviceResponses = new Map<string, unknown>();
  /** Services and action servers that are absent. */
  readonly offline = new Set<string>();
  /** Result of each action by name (default: success, error_code 0). */
  readonly actionResults = new Map<string, unknown>();
  destroyed = false;
  clockMs = 1_700_000_000_000;

  /** With loopback, what the node publishes reaches its own subscriptions, as on a real ROS 2 graph. */
  constructor(readonly options: { loopback?: boolean } = {}) {}

  createSubscription(type: string, topic: string, options: SubscriptionOptions, callback: (message: unknown) => void): unknown {
    const subscription = { type, topic, options, callback };
    this.subscriptions.push(subscription);
    return subscription;
  }

  createPublisher<T>(type: string, topic: string): RosPublisher<T> {
    const entry = { type, messages: [] as unknown[] };
    this.published.set(topic, entry);
    return {
      publish: (message: T) => {
        entry.messages.push(overTheWire(type, message));
        if (this.options.loopback === true) this.deliver(topic, message);
      },
    };
  }

  createClient(type: string, service: string): RosServiceClient {
    return {
      waitForService: async () => Promise.resolve(!this.offline.has(service)),
      sendRequest: (request, callback) => {
        this.serviceCalls.push({ service, type, request });
        const response = this.serviceResponses.get(service) ?? (type.endsWith('Trigger') ? { success: true, message: '' } : { ok: true });
        queueMicrotask(() => callback(response));
      },
    };
  }

  createActionClient(type: string, action: string): RosActionClient {
    return {
      waitForServer: async () => Promise.resolve(!this.offline.has(action)),
      sendGoal: async (goal): Promise<RosGoalHandle> => {
        this.goals.push({ action, type, goal: type.endsWith('GripperCommand') ? overTheWire('control_msgs/action/GripperCommand_Goal', goal) : goal });
        const result = this.actionResults.get(action) ?? { error_code: 0 };
        return Promise.resolve({ isAccepted: () => !this.offline.has(action), getResult: async () => Promise.resolve(result) });
      },
    };
  }

  topicNamesAndTypes(): { name: string; types: string[] }[] {
    const names = new Map<string, string>();
    for (const s of this.subscriptions) names.set(s.topic, s.type);
    for (const [topic, p] of this.published) names.set(topic, p.type);
    return [...names].map(([name, type]) => ({ name, types: [type] }));
  }

  nowMs(): number {
    return this.clockMs;
  }

  destroy(): void {
    this.destroyed = true;
  }

  /** Delivers a message to every subscription of `topic` (after a CDR round trip). */
  deliver(topic: string, message: unknown): number {
    const targets = this.subscriptions.filter((s) => s.topic === topic);
    for (const s of targets) s.callback(overTheWire(s.type, message));
    return targets.length;
  }

  messages<T>(topic: string): T[] {
    return (this.published.get(topic)?.messages ?? []) as T[];
  }
}
