/**
 * The dashboard server: fastify serving a fixed set of static files, a websocket at /ws that
 * streams camera JPEGs, progress, episodes, safety state and events, and token-protected control
 * routes under /api/.
 *
 * Security model: binds 127.0.0.1 unless configured; every control route and the websocket need
 * the token (a random one is created at start unless configured); bodies are validated by JSON
 * schema; static files come from an in-memory whitelist, so no request path reaches the file
 * system; a websocket client that stops reading is dropped once its send buffer passes a bound.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import type { Logger } from '../common/log.js';
import type { EventStream, RunEvent } from '../robot/events.js';
import type { RunLoop, RunUpdate } from '../launch/run-loop.js';
import type { FrameSource } from '../robot/types.js';
import { FrameStreamer, type EncodedFrame } from './frames.js';
import type { Links } from './telemetry.js';

export interface DashboardOptions {
  loop: RunLoop;
  events: EventStream;
  cameras: readonly FrameSource[];
  log: Logger;
  host: string;
  port: number;
  /** Control token; a random one is created when absent. */
  token?: string;
  /** Camera frames per second sent to viewers. */
  cameraFps?: number;
  /** Send buffer (bytes) past which a viewer gets no new camera frames. */
  frameSkipBytes?: number;
  /** Send buffer (bytes) past which a viewer that stopped reading is dropped. */
  maxBufferedBytes?: number;
  /** A viewer whose send buffer stays above frameSkipBytes this long is dropped, ms. */
  stallMs?: number;
  /** Status messages (safety, reward latency, deadlines) per second. */
  statusHz?: number;
  /** State of the links the operator must see (the MQTT broker and its remote e-stop); in status, hello and /api/status. */
  links?: () => Links | null;
}

export interface DashboardStats {
  clients: number;
  clientsDropped: number;
  framesEncoded: number;
  framesSent: number;
  /** Frames not sent to a viewer whose send buffer was full. */
  framesSkippedSlowClient: number;
  /** Camera ticks skipped because the previous JPEG encoding had not finished. */
  framesSkippedEncoder: number;
}

export interface Dashboard {
  /** http://host:port/ */
  url: string;
  /** The URL with the token in its fragment (never sent to the server by the browser). */
  urlWithToken: string;
  token: string;
  port: number;
  stats(): DashboardStats;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

interface StaticFile {
  type: string;
  body: Buffer;
}

function staticFiles(): Map<string, StaticFile> {
  const local = (name: string) => readFileSync(new URL(`./public/${name}`, import.meta.url));
  return new Map<string, StaticFile>([
    ['/', { type: 'text/html; charset=utf-8', body: local('index.html') }],
    ['/app.js', { type: 'text/javascript; charset=utf-8', body: local('app.js') }],
    ['/style.css', { type: 'text/css; charset=utf-8', body: local('style.css') }],
    // The chart library comes from the installed package: no CDN, works offline.
    ['/vendor/uPlot.iife.min.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')) }],
    ['/vendor/uPlot.min.css', { type: 'text/css; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) }],
  ]);
}

function tokenMatches(expected: Buffer, given: string | undefined): boolean {
  if (given === undefined) return false;
  const candidate = Buffer.from(given);
  return candidate.length === expected.length && timingSafeEqual(candidate, expected);
}

const emptyBody = { type: 'object', additionalProperties: false, properties: {} } as const;
const estopBody = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: { type: 'string', maxLength: 200 } },
} as const;
const markBody = {
  type: 'object',
  additionalProperties: false,
  required: ['outcome'],
  properties: { outcome: { type: 'string', enum: ['success', 'failure'] } },
} as const;

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const { loop, events, log } = options;
  const links = (): Links | null => options.links?.() ?? null;
  const token = options.token ?? randomBytes(18).toString('base64url');
  const expected = Buffer.from(token);
  const frameSkipBytes = options.frameSkipBytes ?? 512 * 1024;
  const maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024;
  const stallMs = options.stallMs ?? 5000;
  const files = staticFiles();
  const clients = new Set<WebSocket>();
  const stats = { clientsDropped: 0, framesSent: 0, framesSkippedSlowClient: 0 };

  // Strict validation: no type coercion, and unknown properties are refused rather than removed.
  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: 16 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  await app.register(websocket, { options: { maxPayload: 4 * 1024 } });

  // Text errors as JSON, and never the stack.
  app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) log.error(`dashboard route failed: ${error.message}`);
    void reply.code(status).send({ error: status === 500 ? 'internal error' : error.message });
  });

  for (const [path, file] of files) {
    app.get(path, async (_request, reply) => reply.type(file.type).header('cache-control', 'no-cache').send(file.body));
  }

  // The control routes live in their own plugin so that the token check is attached to the
  // routes themselves (fastify encapsulation), not to a URL prefix that percent-encoding
  // (/%61pi/estop) could slip past.
  await app.register(
    async (api) => {
      api.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        const header = request.headers.authorization;
        const given = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
        if (!tokenMatches(expected, given)) {
          await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong token (Authorization: Bearer <token>)' });
        }
      });
      const control = (name: string, run: () => void | boolean | Promise<void | boolean>) => {
        api.post(`/${name}`, { schema: { body: emptyBody } }, async () => {
          const result = await run();
          return { ok: result !== false, state: loop.runState, estopped: loop.snapshot().estopped };
        });
      };
      control('start', () => loop.start('dashboard'));
      control('pause', () => loop.pause('dashboard'));
      control('resume', () => loop.resume('dashboard'));
      control('stop', () => loop.stop('dashboard'));
      control('reset', () => loop.resetEstop('dashboard'));
      api.post<{ Body: { outcome: 'success' | 'failure' } }>('/mark', { schema: { body: markBody } }, async (request) => {
        const marked = loop.mark(request.body.outcome, 'dashboard');
        return { ok: marked, state: loop.runState, estopped: loop.snapshot().estopped };
      });
      api.post<{ Body: { reason?: string } }>('/estop', { schema: { body: estopBody } }, async (request) => {
        await loop.estop('dashboard', request.body.reason ?? 'operator pressed e-stop');
        return { ok: true, state: loop.runState, estopped: true };
      });
      api.get('/status', async () => ({ ...loop.snapshot(), links: links() }));
    },
    { prefix: '/api' },
  );

  const send = (client: WebSocket, message: string): boolean => {
    if (client.readyState !== client.OPEN) return false;
    if (client.bufferedAmount > maxBufferedBytes) {
      // It stopped reading: drop it rather than buffer without bound.
      drop(client, `${client.bufferedAmount} bytes buffered`);
      return false;
    }
    client.send(message);
    return true;
  };
  const broadcast = (message: object): void => {
    const text = JSON.stringify(message);
    for (const client of clients) send(client, text);
  };

  app.get('/ws', { websocket: true }, (socket: WebSocket, request: FastifyRequest) => {
    const query = request.query as { token?: unknown };
    if (typeof query.token !== 'string' || !tokenMatches(expected, query.token)) {
      socket.close(4401, 'missing or wrong token');
      return;
    }
    clients.add(socket);
    const forget = (): void => {
      clients.delete(socket);
      congestedSince.delete(socket);
    };
    socket.on('close', forget);
    socket.on('error', forget);
    send(socket, JSON.stringify({ type: 'hello', snapshot: loop.snapshot(), events: events.recent(), frames: streamer.latest(), links: links() }));
  });

  const unsubscribeUpdates = loop.onUpdate((update: RunUpdate) => {
    if (update.type === 'step') return; // status messages carry the step counters at a lower rate
    broadcast({ type: 'update', update });
  });
  const unsubscribeEvents = events.subscribe((event: RunEvent) => broadcast({ type: 'event', event }));

  const statusTimer = setInterval(
    () => {
      if (clients.size === 0) return;
      const snapshot = loop.snapshot();
      broadcast({
        type: 'status',
        state: snapshot.state,
        estopped: snapshot.estopped,
        safety: snapshot.safety,
        reward: snapshot.reward,
        deadlines: snapshot.deadlines,
        learner: snapshot.learner,
        control: snapshot.control,
        episode: snapshot.episode ? { index: snapshot.episode.index, steps: snapshot.episode.steps } : null,
        links: links(),
      });
    },
    1000 / (options.statusHz ?? 2),
  );

  // A viewer whose send buffer stays above frameSkipBytes gets no frames; if it stays there for
  // stallMs it has stopped reading and is dropped. Other messages check the hard bound in send().
  const congestedSince = new Map<WebSocket, number>();
  const drop = (client: WebSocket, why: string): void => {
    stats.clientsDropped++;
    clients.delete(client);
    congestedSince.delete(client);
    log.warn(`dashboard: dropped a viewer that stopped reading (${why})`);
    client.terminate();
  };
  const streamer = new FrameStreamer(
    options.cameras,
    options.cameraFps ?? 5,
    (frame: EncodedFrame) => {
      const text = JSON.stringify({ type: 'frame', frame });
      const now = Date.now();
      for (const client of clients) {
        if (client.bufferedAmount > frameSkipBytes) {
          stats.framesSkippedSlowClient++;
          const since = congestedSince.get(client) ?? now;
          congestedSince.set(client, since);
          if (now - since > stallMs) drop(client, `${client.bufferedAmount} bytes unsent for ${now - since} ms`);
          continue;
        }
        congestedSince.delete(client);
        if (send(client, text)) stats.framesSent++;
      }
    },
    log,
  );
  streamer.start();

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${shownHost}:${port}/`;
  return {
    url,
    urlWithToken: `${url}#token=${token}`,
    token,
    port,
    stats: () => ({ clients: clients.size, clientsDropped: stats.clientsDropped, framesSent: stats.framesSent, framesSkippedSlowClient: stats.framesSkippedSlowClient, ...streamer.stats() }),
    async close() {
      clearInterval(statusTimer);
      streamer.stop();
      unsubscribeUpdates();
      unsubscribeEvents();
      for (const client of clients) client.terminate();
      clients.clear();
      await app.close();
    },
  };
}
