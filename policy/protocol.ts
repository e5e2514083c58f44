/**
 * Actors and a learner in separate processes, over gRPC (policy/learner.proto,
 * docs/actor-learner-protocol.md). Every call carries the learner's token and the actor's name;
 * a call without the token is refused. The client puts a deadline on every call and resends a
 * call that failed in transit (the channel reconnects by itself): every operation is idempotent
 * (demos are keyed by index, episodes by actor, kind and index, behaviour cloning runs once per
 * learner), so a resend never doubles anything. Several actors may feed one learner.
 */
import { timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import type { Logger } from '../common/log.js';
import { ACTOR_NAME } from './actor-name.js';
import type { Learner, LearnerSettings, LearnerStats, RecentUpdates } from './learner.js';
import { actorWeightsOf, LocalLearner } from './learner.js';
import type { EpisodeRecord } from './records.js';
import type { Rng } from './rng.js';
import { RecordLog } from './run-store.js';
import { SacLearner } from './sac.js';

export const PROTOCOL_VERSION = 2;

/** Longest a `Weights` call with `maxOwed` waits for the learner to catch up before answering anyway. */
export const CATCH_UP_WAIT_MS = 5000;

/** Records and weights are a few MB at most; the limit keeps a runaway message from filling memory. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Settings the first actor's hello fixes and later actors may differ in (their own episode seeds, their own rollouts). */
const PER_ACTOR_SETTINGS: ReadonlySet<string> = new Set(['seed', 'demoCapacity']);

const PROTO = fileURLToPath(new URL('./learner.proto', import.meta.url));

interface LearnerServiceClient extends grpc.Client {
  [method: string]: unknown;
}

function learnerService(): { service: grpc.ServiceDefinition; Client: new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => LearnerServiceClient } {
  const definition = protoLoader.loadSync(PROTO, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: false });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { dopamine: { learner: { v2: { Learner: grpc.ServiceClientConstructor } } } };
  const constructor = loaded.dopamine.learner.v2.Learner;
  return { service: constructor.service, Client: constructor as unknown as new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => LearnerServiceClient };
}

// ---- records and weights on the wire: float arrays as raw little-endian bytes, not base64 ----

interface WireRecord extends Omit<EpisodeRecord, 'observations' | 'actions' | 'interventionSteps'> {
  observations: Buffer;
  actions: Buffer;
  interventionSteps: number[];
}

function toWire(record: EpisodeRecord): WireRecord {
  const { actor: _actor, ...rest } = record;
  return { ...rest, observations: Buffer.from(record.observations, 'base64'), actions: Buffer.from(record.actions, 'base64'), interventionSteps: record.interventionSteps ?? [] };
}

function fromWire(wire: WireRecord): EpisodeRecord {
  if (wire.kind !== 'demo' && wire.kind !== 'episode') throw new RequestError(`record kind: expected demo or episode, got ${JSON.stringify(wire.kind)}`);
  const { interventionSteps, observations, actions, ...rest } = wire;
  const record: EpisodeRecord = { ...rest, observations: observations.toString('base64'), actions: actions.toString('base64') };
  if (interventionSteps.length > 0) record.interventionSteps = interventionSteps;
  for (const key of ['attempt', 'outcome', 'heldSteps', 'source'] as const) if (record[key] === undefined) delete record[key];
  return record;
}

function weightsToWire(weights: Record<string, Float32Array>): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(weights).map(([name, v]) => [name, Buffer.from(v.buffer, v.byteOffset, v.byteLength)]));
}

function weightsFromWire(weights: Record<string, Buffer>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(weights).map(([name, bytes]) => [name, new Float32Array(new Uint8Array(bytes).buffer)]));
}

/** The learner refused a request as it stands (bad settings, bad record): resending will not help. */
class RequestError extends Error {
  constructor(
    message: string,
    readonly code: grpc.status = grpc.status.INVALID_ARGUMENT,
  ) {
    super(message);
  }
}

const HELLO_FIRST = 'expected Hello first';

function differingSetting(a: LearnerSettings, b: LearnerSettings): string | undefined {
  for (const key of Object.keys({ ...a, ...b }) as (keyof LearnerSettings)[]) {
    if (PER_ACTOR_SETTINGS.has(key)) continue;
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return `${key}: learner has ${JSON.stringify(a[key])}, actor sent ${JSON.stringify(b[key])}`;
  }
  return undefined;
}

function sameToken(given: string, expected: Buffer): boolean {
  const bytes = Buffer.from(given);
  return bytes.length === expected.length && timingSafeEqual(bytes, expected);
}

export interface LearnerServerOptions {
  runDir: string;
  log: Logger;
  /** Every call must carry `authorization: Bearer <token>`. */
  token: string;
  /** PEM certificate and key: the learner serves TLS only. Absent: plain HTTP/2 (loopback, or a tunnel). */
  tls?: { cert: Buffer; key: Buffer };
}

/**
 * The learner process: holds the SAC learner, both buffers and its own durable copy of every record
 * (runDir/learner-records.log, each episode with the actor that sent it), trains in the background
 * as transitions arrive (updatesPerStep per transition) and checkpoints after every episode.
 */
export class LearnerServer {
  private core: LocalLearner | undefined;
  private creating: Promise<LocalLearner> | undefined;
  private settings: LearnerSettings | undefined;
  private readonly server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.max_send_message_length': MAX_MESSAGE_BYTES, 'grpc.keepalive_permit_without_calls': 1 });
  private readonly records: RecordLog<EpisodeRecord>;
  private readonly token: Buffer;
  private cloned = false;
  private cloning: Promise<void> | undefined;
  private training: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Episodes received per actor name (this process's lifetime, log included). */
  readonly episodesByActor = new Map<string, number>();

  constructor(private readonly options: LearnerServerOptions) {
    if (options.token.length === 0) throw new Error('the learner needs a token');
    this.token = Buffer.from(`Bearer ${options.token}`);
    this.records = new RecordLog(join(options.runDir, 'learner-records.log'));
    const { service } = learnerService();
    this.server.addService(service, {
      hello: this.handler((r: { protocol: number; settingsJson: string }) => this.hello(r)),
      addRecord: this.handler((r: WireRecord, actor) => this.addRecord(fromWire(r), actor)),
      clone: this.handler(() => this.clone()),
      weights: this.handler((r: { since: number; maxOwed?: number }) => this.weights(r.since, r.maxOwed)),
      stats: this.handler(async () => {
        const s = await this.ready('Stats').stats();
        return { updates: s.updates, parameters: s.parameters, ...(s.updateMs === null ? {} : { updateMs: s.updateMs }), ...(s.recent ? { recent: s.recent } : {}) };
      }),
    });
  }

  /** One unary handler: the token first, then the actor's name, then the operation; errors become gRPC statuses. */
  private handler<Req, Res>(operation: (request: Req, actor: string) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const authorization = call.metadata.get('authorization')[0];
      if (typeof authorization !== 'string' || !sameToken(authorization, this.token)) {
        callback({ code: grpc.status.UNAUTHENTICATED, details: 'expected the learner\'s token (authorization: Bearer <token>)' });
        return;
      }
      const actor = call.metadata.get('x-actor')[0];
      if (typeof actor !== 'string' || !ACTOR_NAME.test(actor)) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: `x-actor: expected an actor name (${ACTOR_NAME.source}), got ${JSON.stringify(actor ?? null)}` });
        return;
      }
      operation(call.request, actor).then(
        (result) => callback(null, result),
        (error: unknown) => {
          const code = error instanceof RequestError ? error.code : grpc.status.INTERNAL;
          callback({ code, details: error instanceof Error ? error.message : String(error) });
        },
      );
    };
  }

  private ready(operation: string): LocalLearner {
    if (!this.core) throw new RequestError(`${operation}: ${HELLO_FIRST}`, grpc.status.FAILED_PRECONDITION);
    return this.core;
  }

  private async hello(request: { protocol: number; settingsJson: string }): Promise<{ updates: number }> {
    if (request.protocol !== PROTOCOL_VERSION) throw new RequestError(`protocol: expected ${PROTOCOL_VERSION}, got ${request.protocol}`, grpc.status.FAILED_PRECONDITION);
    let settings: LearnerSettings;
    try {
      settings = JSON.parse(request.settingsJson) as LearnerSettings;
    } catch {
      throw new RequestError('settings: expected JSON');
    }
    // Two actors saying hello at once create one learner.
    this.creating ??= this.create(settings);
    const core = await this.creating;
    const difference = differingSetting(this.settings!, settings);
    if (difference) throw new RequestError(`settings differ from the running learner's: ${difference}`, grpc.status.FAILED_PRECONDITION);
    return { updates: core.sac.updates };
  }

  private async create(settings: LearnerSettings): Promise<LocalLearner> {
    this.settings = settings;
    const core = await LocalLearner.create(settings, this.options.runDir, this.options.log);
    const { records, truncatedTail } = this.records.read();
    if (truncatedTail) this.options.log.warn(`learner-records.log: cut off a torn last line (line ${truncatedTail.line})`);
    for (const r of records) {
      await core.addRecord(r);
      if (r.kind === 'episode') this.count(r.actor);
    }
    this.cloned = core.restore().restored;
    this.core = core;
    this.trainLoop();
    return core;
  }

  private count(actor: string | undefined): void {
    const name = actor ?? '(unnamed)';
    this.episodesByActor.set(name, (this.episodesByActor.get(name) ?? 0) + 1);
  }

  private async addRecord(record: EpisodeRecord, actor: string): Promise<{ added: boolean }> {
    const core = this.ready('AddRecord');
    // Demos are the run's (every actor sends the same ones); episodes are the sending actor's.
    if (record.kind === 'episode') record.actor = actor;
    const before = core.demos.added + core.online.added;
    try {
      await core.addRecord(record);
    } catch (error) {
      if (error instanceof RangeError) throw new RequestError(error.message);
      throw error;
    }
    const added = core.demos.added + core.online.added > before;
    if (added) {
      this.records.append(record);
      if (record.kind === 'episode') {
        this.count(actor);
        await this.training;
        await core.checkpoint();
      }
    }
    return { added };
  }

  private async clone(): Promise<Record<string, never>> {
    const core = this.ready('Clone');
    // Once per learner, whichever actor asks first (the others wait for it); training starts after it.
    this.cloning ??= this.cloned
      ? Promise.resolve()
      : (async () => {
          await this.training;
          await core.clone();
          await core.checkpoint();
          this.cloned = true;
        })();
    await this.cloning;
    return {};
  }

  private async weights(since: number, maxOwed: number | undefined): Promise<{ version: number; owed: number; weights?: Record<string, Buffer> }> {
    const core = this.ready('Weights');
    // An actor that bounds the learner's lag waits here (a few seconds at most per call) until
    // the updates owed for the transitions sent are done; the train loop runs meanwhile.
    if (maxOwed !== undefined && this.cloned) {
      const giveUpAt = Date.now() + CATCH_UP_WAIT_MS;
      while (core.owed > maxOwed && Date.now() < giveUpAt && !this.stopped) await new Promise((r) => setTimeout(r, 5));
    }
    const head = { version: core.sac.updates, owed: core.owed };
    return core.sac.updates === since ? head : { ...head, weights: weightsToWire(core.actorWeights()) };
  }

  /** Trains while updates are owed for received transitions; yields to requests between small bursts. */
  private trainLoop(): void {
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      const core = this.core!;
      if (this.cloned && core.owed > 0) {
        const n = Math.min(core.owed, 4);
        this.training = core.update(n);
        await this.training;
        setImmediate(() => void tick());
      } else {
        setTimeout(() => void tick(), 10);
      }
    };
    void tick();
  }

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    const credentials = this.options.tls ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: this.options.tls.cert, private_key: this.options.tls.key }]) : grpc.ServerCredentials.createInsecure();
    const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
    const bound = await new Promise<number>((resolve, reject) => this.server.bindAsync(address, credentials, (error, p) => (error ? reject(error) : resolve(p))));
    this.options.log.info(`learner listening on ${host}:${bound} (gRPC, protocol ${PROTOCOL_VERSION}, ${this.options.tls ? 'TLS' : 'no TLS'}, token required)`);
    return bound;
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.training;
    this.server.forceShutdown();
    await this.creating?.catch(() => undefined);
    await this.core?.close();
  }
}

export interface ClientOptions {
  host: string;
  port: number;
  /** The learner's token, sent on every call. */
  token: string;
  /** This actor's name: the learner keeps its episodes under it (ACTOR_NAME). */
  actor: string;
  /** PEM certificate(s) to trust: the connection uses TLS. Absent: plain HTTP/2. */
  ca?: Buffer;
  /** Deadline of every call, ms. */
  callTimeoutMs: number;
  /** How long to keep resending a call that fails in transit before it fails for good, ms. */
  reconnectForMs: number;
  log: Logger;
}

/** Statuses that mean the call did not get through (or its answer did not): resend it. */
const TRANSIENT: ReadonlySet<grpc.status> = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED, grpc.status.RESOURCE_EXHAUSTED]);

/** One channel to the learner with per-call deadlines; resends a call that failed in transit. */
export class ProtocolClient {
  private readonly client: LearnerServiceClient;
  private readonly metadata = new grpc.Metadata();
  reconnects = 0;

  constructor(private readonly options: ClientOptions) {
    if (!ACTOR_NAME.test(options.actor)) throw new Error(`actor name: expected ${ACTOR_NAME.source}, got ${JSON.stringify(options.actor)}`);
    const { Client } = learnerService();
    const credentials = options.ca ? grpc.credentials.createSsl(options.ca) : grpc.credentials.createInsecure();
    this.client = new Client(`${options.host}:${options.port}`, credentials, {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // Keep-alive pings find a dead learner between calls; reconnect quickly once it is back.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
    });
    this.metadata.set('authorization', `Bearer ${options.token}`);
    this.metadata.set('x-actor', options.actor);
  }

  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  private once<T>(method: string, request: unknown): Promise<T> {
    const call = this.client[method] as (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: T) => void) => void;
    return new Promise((resolve, reject) => {
      call.call(this.client, request, this.metadata, { deadline: Date.now() + this.options.callTimeoutMs }, (error, response) => (error ? reject(error) : resolve(response)));
    });
  }

  /**
   * A call with a deadline, resent (50 ms, doubling up to 2 s) until `reconnectForMs` has passed.
   * `hello`: said again before a resend, and when the learner answers that it has not heard one
   * (it restarted between two calls).
   */
  async call<T>(method: string, request: unknown, hello?: () => Promise<void>): Promise<T> {
    const giveUpAt = Date.now() + this.options.reconnectForMs;
    let delay = 50;
    let sayHello = false;
    for (;;) {
      try {
        if (sayHello && hello) await hello();
        return await this.once<T>(method, request);
      } catch (error) {
        const e = error as grpc.ServiceError;
        if (e.code === grpc.status.UNAUTHENTICATED) throw new ProtocolError(`learner at ${this.address} refused the token: ${e.details}`);
        if (e.code === grpc.status.FAILED_PRECONDITION && e.details.includes(HELLO_FIRST) && hello && !sayHello) {
          sayHello = true;
          continue;
        }
        if (!TRANSIENT.has(e.code)) throw new ProtocolError(e.details || e.message);
        if (Date.now() + delay > giveUpAt) throw new Error(`learner at ${this.address}: ${method}: ${e.details || e.message}; gave up after ${this.options.reconnectForMs} ms`);
        this.options.log.warn(`learner call ${method} failed (${e.details || e.message}); trying again in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
        this.reconnects++;
        sayHello = true;
      }
    }
  }

  close(): void {
    this.client.close();
  }
}

/** The learner answered with an error (bad request, mismatched settings, wrong token). */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

export interface RemoteLearnerOptions extends ClientOptions {
  /**
   * At each sync (episode start, evaluation), wait until the learner owes at most this many updates
   * for the transitions already sent, so the policy lags the data by a bounded amount (0: every
   * update for the episodes sent so far is done, like the in-process learner at episode
   * boundaries). Absent: never wait (the actor acts with whatever weights the learner has).
   */
  maxLagUpdates?: number;
}

interface StatsReply {
  updates: number;
  updateMs?: number;
  parameters: number;
  recent?: RecentUpdates;
}

/** The actor's view of a learner in another process; acts with a local copy of the actor network. */
export class RemoteLearner implements Learner {
  readonly label: string;
  private version = -1;
  /** Time spent waiting for the learner to catch up (maxLagUpdates), ms. */
  waitedMs = 0;

  private constructor(
    private readonly client: ProtocolClient,
    private readonly settings: LearnerSettings,
    private readonly acting: SacLearner,
    private readonly options: RemoteLearnerOptions,
  ) {
    const over = `learner over gRPC${options.ca ? ' (TLS)' : ''} as actor ${options.actor}`;
    this.label = options.maxLagUpdates === undefined ? over : `${over} (actor waits at each episode start until at most ${options.maxLagUpdates} updates are owed)`;
  }

  static async connect(settings: LearnerSettings, options: RemoteLearnerOptions): Promise<RemoteLearner> {
    const client = new ProtocolClient(options);
    const acting = await SacLearner.create({ ...settings, actionSize: 5, batchSize: 2 });
    const learner = new RemoteLearner(client, settings, acting, options);
    try {
      await learner.hello();
    } catch (error) {
      client.close();
      await acting.dispose();
      throw error;
    }
    return learner;
  }

  private async hello(): Promise<void> {
    await this.client.call('hello', { protocol: PROTOCOL_VERSION, settingsJson: JSON.stringify(this.settings) });
  }

  /** The learner may be a fresh process after a failure: the client says hello again before resending. */
  private call<T>(method: string, request: unknown): Promise<T> {
    return this.client.call<T>(method, request, () => this.hello());
  }

  get reconnects(): number {
    return this.client.reconnects;
  }

  async addRecord(record: EpisodeRecord): Promise<void> {
    await this.call('addRecord', toWire(record));
  }

  async clone(): Promise<void> {
    await this.call('clone', {});
  }

  async afterStep(): Promise<void> {}

  async sync(): Promise<void> {
    const maxOwed = this.options.maxLagUpdates;
    const started = performance.now();
    let previousOwed = Infinity;
    for (;;) {
      const answer = await this.call<{ version: number; owed: number; weights: Record<string, Buffer> }>('weights', { since: this.version, ...(maxOwed === undefined ? {} : { maxOwed }) });
      for (const [name, values] of Object.entries(weightsFromWire(answer.weights))) this.acting.store.set(name, values);
      this.version = answer.version;
      // Done when caught up, when not bounding the lag, or when the learner makes no progress (a
      // learner that cannot train, e.g. one that never cloned, must not hang the actor).
      if (maxOwed === undefined || answer.owed <= maxOwed) break;
      if (answer.owed >= previousOwed) {
        this.options.log.warn(`learner at ${this.client.address} still owes ${answer.owed} updates and is not catching up; acting with its current weights`);
        break;
      }
      previousOwed = answer.owed;
    }
    if (maxOwed !== undefined) this.waitedMs += performance.now() - started;
  }

  act(observation: Float32Array, rng: Rng, deterministic: boolean): Promise<Float32Array> {
    return this.acting.act(observation, rng, deterministic);
  }

  actorWeights(): Record<string, Float32Array> {
    return actorWeightsOf(this.acting);
  }

  async checkpoint(): Promise<void> {}

  async stats(): Promise<LearnerStats> {
    const reply = await this.call<StatsReply>('stats', {});
    const learner: LearnerStats = { updates: reply.updates, updateMs: reply.updateMs ?? null, parameters: reply.parameters, ...(reply.recent ? { recent: reply.recent } : {}) };
    return this.options.maxLagUpdates === undefined ? learner : { ...learner, actorWaitS: this.waitedMs / 1000 };
  }

  async close(): Promise<void> {
    this.client.close();
    await this.acting.dispose();
  }
}
