/**
 * Actor and learner in two processes: newline-delimited JSON over TCP (docs/actor-learner-protocol.md).
 * Every request carries an id and gets exactly one response with that id. The client puts a
 * deadline on every call; a call that fails or times out closes the connection, reconnects with
 * back-off and is sent again: every operation is idempotent (records are keyed by kind and index,
 * behaviour cloning runs once per learner), so a retry never doubles anything.
 */
import { createServer, Socket, type Server } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import type { Learner, LearnerSettings, LearnerStats } from './learner.js';
import { actorWeightsOf, LocalLearner } from './learner.js';
import type { EpisodeRecord } from './records.js';
import type { Rng } from './rng.js';
import { packWeights, RecordLog, unpackWeights } from './run-store.js';
import { SacLearner } from './sac.js';

export const PROTOCOL_VERSION = 1;

/** Longest a `weights` call with `maxOwed` waits for the learner to catch up before answering anyway. */
export const CATCH_UP_WAIT_MS = 5000;

type Request =
  | { id: number; op: 'hello'; protocol: number; settings: LearnerSettings }
  | { id: number; op: 'record'; record: EpisodeRecord }
  | { id: number; op: 'clone' }
  | { id: number; op: 'weights'; since: number; maxOwed?: number }
  | { id: number; op: 'stats' };

type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Splits a byte stream into lines and calls `onLine` for each complete one. */
function lineReader(socket: Socket, onLine: (line: string) => void, maxLine = 64 * 1024 * 1024): void {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.trim() !== '') onLine(line);
      newline = pending.indexOf('\n');
    }
    if (pending.length > maxLine) socket.destroy(new Error(`line longer than ${maxLine} bytes`));
  });
}

function sameSettings(a: LearnerSettings, b: LearnerSettings): string | undefined {
  for (const key of Object.keys(a) as (keyof LearnerSettings)[]) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return `${key}: learner has ${JSON.stringify(a[key])}, actor sent ${JSON.stringify(b[key])}`;
  }
  return undefined;
}

/**
 * The learner process: holds the SAC learner, both buffers and its own durable copy of every record
 * (runDir/learner-records.log), trains in the background as transitions arrive (updatesPerStep per
 * transition) and checkpoints after every episode.
 */
export class LearnerServer {
  private core: LocalLearner | undefined;
  private settings: LearnerSettings | undefined;
  private server: Server | undefined;
  private readonly records: RecordLog<EpisodeRecord>;
  private cloned = false;
  private training: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly runDir: string,
    private readonly log: Logger,
  ) {
    this.records = new RecordLog(join(runDir, 'learner-records.log'));
  }

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    const address = this.server.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    this.log.info(`learner listening on ${host}:${bound} (protocol ${PROTOCOL_VERSION})`);
    return bound;
  }

  private readonly sockets = new Set<Socket>();

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    // One request at a time per connection, in order.
    let queue = Promise.resolve();
    lineReader(socket, (line) => {
      queue = queue.then(async () => {
        let id = -1;
        let response: Response;
        try {
          const request = JSON.parse(line) as Request;
          id = request.id;
          response = { id, ok: true, result: await this.handle(request) };
        } catch (error) {
          response = { id, ok: false, error: error instanceof Error ? error.message : String(error) };
        }
        if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
      });
    });
  }

  private async handle(request: Request): Promise<unknown> {
    if (request.op === 'hello') {
      if (request.protocol !== PROTOCOL_VERSION) throw new Error(`protocol: expected ${PROTOCOL_VERSION}, got ${request.protocol}`);
      if (!this.core) {
        this.settings = request.settings;
        this.core = await LocalLearner.create(request.settings, this.runDir, this.log);
        const { records, truncatedTail } = this.records.read();
        if (truncatedTail) this.log.warn(`learner-records.log: cut off a torn last line (line ${truncatedTail.line})`);
        for (const r of records) await this.core.addRecord(r);
        this.cloned = this.core.restore().restored;
        this.trainLoop();
      } else {
        const difference = sameSettings(this.settings!, request.settings);
        if (difference) throw new Error(`settings differ from the running learner's: ${difference}`);
      }
      return { updates: this.core.sac.updates };
    }
    const core = this.core;
    if (!core) throw new Error(`${request.op}: expected hello first`);
    switch (request.op) {
      case 'record': {
        const before = core.demos.added + core.online.added;
        await core.addRecord(request.record);
        const added = core.demos.added + core.online.added > before;
        if (added) {
          this.records.append(request.record);
          if (request.record.kind === 'episode') {
            await this.training;
            await core.checkpoint();
          }
        }
        return { added };
      }
      case 'clone':
        if (!this.cloned) {
          await this.training;
          await core.clone();
          await core.checkpoint();
          this.cloned = true;
        }
        return {};
      case 'weights': {
        // An actor that bounds the learner's lag waits here (a few seconds at most per call) until
        // the updates owed for the transitions it sent are done; the train loop runs meanwhile.
        if (request.maxOwed !== undefined && this.cloned) {
          const giveUpAt = Date.now() + CATCH_UP_WAIT_MS;
          while (core.owed > request.maxOwed && Date.now() < giveUpAt && !this.stopped) await new Promise((r) => setTimeout(r, 5));
        }
        const head = { version: core.sac.updates, owed: core.owed };
        return core.sac.updates === request.since ? head : { ...head, weights: packWeights(core.actorWeights()) };
      }
      case 'stats':
        return await core.stats();
    }
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

  async close(): Promise<void> {
    this.stopped = true;
    await this.training;
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    await this.core?.close();
  }
}

export interface ClientOptions {
  host: string;
  port: number;
  /** Deadline of every call, ms. */
  callTimeoutMs: number;
  /** How long to keep reconnecting before a call fails for good, ms. */
  reconnectForMs: number;
  log: Logger;
}

/** One connection with per-call deadlines; reconnects and resends on failure. */
export class ProtocolClient {
  private socket: Socket | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Response) => void; reject: (e: Error) => void }>();
  reconnects = 0;

  constructor(private readonly options: ClientOptions) {}

  private connect(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${this.options.host}:${this.options.port}: no answer within ${this.options.callTimeoutMs} ms`));
      }, this.options.callTimeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.connect(this.options.port, this.options.host, () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        socket.removeAllListeners('error');
        socket.on('error', () => undefined);
        socket.on('close', () => {
          for (const [, w] of this.waiting) w.reject(new Error('connection closed'));
          this.waiting.clear();
        });
        lineReader(socket, (line) => {
          const response = JSON.parse(line) as Response;
          this.waiting.get(response.id)?.resolve(response);
          this.waiting.delete(response.id);
        });
        this.socket = socket;
        resolve(socket);
      });
    });
  }

  private async once(body: Record<string, unknown>): Promise<unknown> {
    const socket = await this.connect();
    const id = this.nextId++;
    const response = await new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${String(body.op)}: no answer within ${this.options.callTimeoutMs} ms`));
      }, this.options.callTimeoutMs);
      this.waiting.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      socket.write(`${JSON.stringify({ id, ...body })}\n`);
    });
    if (!response.ok) throw new ProtocolError(response.error);
    return response.result;
  }

  /** A call with a deadline, retried over fresh connections until `reconnectForMs` has passed. */
  async call(body: Record<string, unknown>, onReconnect?: () => Promise<void>): Promise<unknown> {
    const giveUpAt = Date.now() + this.options.reconnectForMs;
    let delay = 50;
    for (;;) {
      try {
        return await this.once(body);
      } catch (error) {
        if (error instanceof ProtocolError) throw error; // the learner answered: retrying will not help
        this.socket?.destroy();
        this.socket = undefined;
        if (Date.now() + delay > giveUpAt) throw new Error(`learner at ${this.options.host}:${this.options.port}: ${(error as Error).message}; gave up after ${this.options.reconnectForMs} ms`);
        this.options.log.warn(`learner call ${String(body.op)} failed (${(error as Error).message}); reconnecting in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
        this.reconnects++;
        if (onReconnect) await onReconnect();
      }
    }
  }

  close(): void {
    this.socket?.destroy();
  }
}

/** The learner answered with an error (bad request, mismatched settings). */
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
    this.label = options.maxLagUpdates === undefined ? 'learner over TCP' : `learner over TCP (actor waits at each episode start until at most ${options.maxLagUpdates} updates are owed)`;
  }

  static async connect(settings: LearnerSettings, options: RemoteLearnerOptions): Promise<RemoteLearner> {
    const client = new ProtocolClient(options);
    const acting = await SacLearner.create({ ...settings, actionSize: 5, batchSize: 2 });
    const learner = new RemoteLearner(client, settings, acting, options);
    await learner.hello();
    return learner;
  }

  private async hello(): Promise<void> {
    await this.client.call({ op: 'hello', protocol: PROTOCOL_VERSION, settings: this.settings });
  }

  /** After a reconnect the learner may be a fresh process: say hello again before the retried call. */
  private call(body: Record<string, unknown>): Promise<unknown> {
    return this.client.call(body, () => this.client.call({ op: 'hello', protocol: PROTOCOL_VERSION, settings: this.settings }).then(() => undefined));
  }

  get reconnects(): number {
    return this.client.reconnects;
  }

  async addRecord(record: EpisodeRecord): Promise<void> {
    await this.call({ op: 'record', record });
  }

  async clone(): Promise<void> {
    await this.call({ op: 'clone' });
  }

  async afterStep(): Promise<void> {}

  async sync(): Promise<void> {
    const maxOwed = this.options.maxLagUpdates;
    const started = performance.now();
    let previousOwed = Infinity;
    for (;;) {
      const answer = (await this.call({ op: 'weights', since: this.version, ...(maxOwed === undefined ? {} : { maxOwed }) })) as { version: number; owed?: number; weights?: Record<string, string> };
      if (answer.weights) for (const [name, values] of Object.entries(unpackWeights(answer.weights))) this.acting.store.set(name, values);
      this.version = answer.version;
      // Done when caught up, when not bounding the lag, or when the learner makes no progress (a
      // learner that cannot train, e.g. one that never cloned, must not hang the actor).
      const owed = answer.owed ?? 0;
      if (maxOwed === undefined || owed <= maxOwed) break;
      if (owed >= previousOwed) {
        this.options.log.warn(`learner at ${this.options.host}:${this.options.port} still owes ${owed} updates and is not catching up; acting with its current weights`);
        break;
      }
      previousOwed = owed;
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
    const learner = (await this.call({ op: 'stats' })) as LearnerStats;
    return this.options.maxLagUpdates === undefined ? learner : { ...learner, actorWaitS: this.waitedMs / 1000 };
  }

  async close(): Promise<void> {
    this.client.close();
    await this.acting.dispose();
  }
}
