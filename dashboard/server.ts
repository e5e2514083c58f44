/**
 * The dashboard server: fastify serving a fixed set of static files, a websocket at /ws that
 * streams camera JPEGs, progress, episodes, safety state and events, and token-protected control
 * routes under /api/.
 *
 * Security model (docs/security.md): binds 127.0.0.1 unless configured, and a non-loopback
 * address only with TLS or an explicit `insecure`; every control route and the websocket need the
 * token (a random one is created at start unless configured), which never travels in a URL: the
 * routes take it in the Authorization header, the websocket in its first message; a browser's
 * websocket must come from the dashboard's own origin; bodies are validated by JSON schema,
 * except the e-stop's, which latches before its body is read; static files come from an
 * in-memory whitelist, so no request path reaches the file system; a websocket client that stops
 * reading is dropped once its send buffer passes a bound.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InputError } from '../common/errors.js';
import { isLoopbackHost, listenError } from '../common/net.js';
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import type { Logger } from '../common/log.js';
import type { EventStream, RunEvent } from '../robot/events.js';
import type { EpisodeReplay, RunLoop, RunUpdate } from '../launch/run-loop.js';
import { CAMERA_ROLES, type CameraRole, type FrameSource } from '../robot/types.js';
import { FrameStreamer, type EncodedFrame } from './frames.js';
import { runMetrics } from './metrics.js';
import { RecordingError, type RecordedFrameSource, type RecordingInfo } from './recorded-frames.js';
import type { Links } from './telemetry.js';
import { parseTeleop } from '../launch/teleop.js';

export interface DashboardOptions {
  loop: RunLoop;
  events: EventStream;
  cameras: readonly FrameSource[];
  log: Logger;
  host: string;
  port: number;
  /** Control token; a random one is created when absent. */
  token?: string;
  /** Serve HTTPS with this certificate and key (PEM file paths, named in errors as dashboard.tls.*). */
  tls?: { cert: string; key: string };
  /** Allow plain HTTP on a non-loopback address (a warning at every start). */
  insecure?: boolean;
  /** How long a websocket may take to send its auth message, ms. */
  authTimeoutMs?: number;
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
  /** A logged episode's curves by its index, for the episode table's replay (absent: no replay; null: not logged). */
  episodeReplay?: (episode: number) => EpisodeReplay | null;
  /** The camera frames recorded of each episode, for the replay (absent: no recordings). */
  recordedFrames?: RecordedFrameSource;
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
  /** http(s)://host:port/ */
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
    ['/favicon.svg', { type: 'image/svg+xml', body: local('favicon.svg') }],
    // The chart library comes from the installed package: no CDN, works offline.
    ['/vendor/uPlot.iife.min.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')) }],
    ['/vendor/uPlot.min.css', { type: 'text/css; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) }],
  ]);
}

function parseJson(text: string): { type?: unknown; token?: unknown; action?: unknown } | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as { type?: unknown; token?: unknown; action?: unknown }) : null;
  } catch {
    return null;
  }
}

function tokenMatches(expected: Buffer, given: string | undefined): boolean {
  if (given === undefined) return false;
  const candidate = Buffer.from(given);
  return candidate.length === expected.length && timingSafeEqual(candidate, expected);
}

const emptyBody = { type: 'object', additionalProperties: false, properties: {} } as const;

const ESTOP_REASON_MAX = 200;
const ESTOP_DEFAULT_REASON = 'operator pressed e-stop';

/**
 * The reason an e-stop body gives, or what was wrong with it. The e-stop has latched before the
 * body is read, so nothing here can refuse it: a body that does not parse is recorded as such.
 */
export function estopReason(body: Buffer | undefined, contentType: string | undefined): string {
  if (body === undefined || body.length === 0) return ESTOP_DEFAULT_REASON;
  const unreadable = (why: string) => `${ESTOP_DEFAULT_REASON} (reason not readable: ${why})`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return unreadable(`a ${body.length}-byte ${contentType?.split(';')[0] ?? 'untyped'} body that is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return unreadable('expected a JSON object');
  const { reason, ...rest } = parsed as { reason?: unknown };
  const extra = Object.keys(rest).length > 0 ? ` (ignored fields: ${Object.keys(rest).slice(0, 5).join(', ').slice(0, 80)})` : '';
  if (reason === undefined) return ESTOP_DEFAULT_REASON + extra;
  if (typeof reason !== 'string') return unreadable(`reason is ${Array.isArray(reason) ? 'a list' : typeof reason}, expected text`);
  // Control characters would let a reason forge lines in the log.
  const text = [...reason].map((c) => (c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127 ? ' ' : c)).join('').trim();
  if (text.length === 0) return ESTOP_DEFAULT_REASON + extra;
  return (text.length > ESTOP_REASON_MAX ? `${text.slice(0, ESTOP_REASON_MAX)}… (reason cut at ${ESTOP_REASON_MAX} characters)` : text) + extra;
}
const episodeParams = {
  type: 'object',
  required: ['episode'],
  properties: { episode: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } },
} as const;

const frameParams = {
  type: 'object',
  required: ['episode', 'frame'],
  properties: { episode: episodeParams.properties.episode, frame: { type: 'string', pattern: '^(0|[1-9][0-9]{0,9})$' } },
} as const;

const frameQuery = {
  type: 'object',
  additionalProperties: false,
  required: ['view'],
  properties: { view: { type: 'string', enum: CAMERA_ROLES } },
} as const;

const interventionBody = {
  type: 'object',
  additionalProperties: false,
  required: ['active'],
  properties: { active: { type: 'boolean' } },
} as const;

const markBody = {
  type: 'object',
  additionalProperties: false,
  required: ['outcome'],
  properties: { outcome: { type: 'string', enum: ['success', 'failure'] } },
} as const;

/** PEM certificate and key from the configured files; an unreadable one names its key. */
function readTls(tls: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  const read = (key: 'cert' | 'key'): Buffer => {
    try {
      return readFileSync(tls[key]);
    } catch (error) {
      throw new InputError(`dashboard.tls.${key}`, `expected a readable PEM file, got ${JSON.stringify(tls[key])} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  };
  return { cert: read('cert'), key: read('key') };
}

/** Plain HTTP on a non-loopback address sends the token across the network in clear text. */
export function checkBindAddress(host: string, tls: boolean, insecure: boolean): void {
  if (tls || insecure || isLoopbackHost(host)) return;
  throw new InputError(
    'dashboard.host',
    `expected a loopback address (127.0.0.1, ::1, localhost) without TLS, got ${JSON.stringify(host)}: set dashboard.tls.cert and dashboard.tls.key to serve HTTPS there (or dashboard.insecure: true to send the token in clear text)`,
  );
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const { loop, events, log } = options;
  checkBindAddress(options.host, options.tls !== undefined, options.insecure === true);
  const https = options.tls ? readTls(options.tls) : null;
  if (!https && !isLoopbackHost(options.host)) {
    const warning = `dashboard: plain HTTP on ${options.host} (dashboard.insecure): the control token crosses the network in clear text; configure dashboard.tls`;
    log.warn(warning);
    events.emit('fault', warning, 'dashboard');
  }
  const authTimeoutMs = options.authTimeoutMs ?? 5000;
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
  let app: FastifyInstance;
  try {
    app = Fastify({
      ...(https ? { https } : {}),
      logger: false,
      bodyLimit: 16 * 1024,
      ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    }) as unknown as FastifyInstance;
  } catch (error) {
    // Node's TLS rejects a certificate or key it cannot use when the server is created.
    throw new InputError('dashboard.tls', `expected a PEM certificate and its private key, got files TLS cannot use (${error instanceof Error ? error.message : String(error)})`);
  }
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
      api.addHook('onRequest', refuseWithoutToken);
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
      // Starts or ends an operator intervention (the dashboard's Take over button; teleop commands then arrive on the websocket).
      api.post<{ Body: { active: boolean } }>('/intervention', { schema: { body: interventionBody } }, async (request) => {
        const changed = loop.setIntervention(request.body.active, 'dashboard');
        return { ok: true, changed, intervention: loop.interventionActive, state: loop.runState, estopped: loop.snapshot().estopped };
      });
      api.get<{ Params: { episode: string } }>('/episodes/:episode', { schema: { params: episodeParams } }, async (request, reply) => {
        const episode = Number(request.params.episode);
        const replay = options.episodeReplay?.(episode) ?? null;
        const recording = await recordingOf(episode);
        if (!replay && !recording.recording) {
          const expected = 'expected an episode this run folder logged (episodes with steps, once scored) or recorded';
          const error = `episode ${episode}: ${expected}${recording.recordingError ? `; ${recording.recordingError}` : ''}`;
          return reply.code(404).send({ error });
        }
        // An episode recorded but not logged replays its frames without curves.
        return { ...(replay ?? { episode }), ...recording };
      });
      api.get<{ Params: { episode: string; frame: string }; Querystring: { view: CameraRole } }>(
        '/episodes/:episode/frames/:frame',
        { schema: { params: frameParams, querystring: frameQuery } },
        async (request, reply) => {
          const episode = Number(request.params.episode);
          const frame = Number(request.params.frame);
          const view = request.query.view;
          const missing = (error: string) => reply.code(404).send({ error: `episode ${episode}: ${error}` });
          const source = options.recordedFrames;
          try {
            const info = source ? await source.info(episode) : null;
            if (!source || !info) return missing('expected an episode with a complete camera recording, got none');
            const views = info.views.join(', ');
            if (!info.views.includes(view)) return missing(`expected a recorded view (${views}), got ${view}`);
            if (frame >= info.frames) return missing(`expected a frame in 0..${info.frames - 1}, got ${frame}`);
            const jpeg = await source.frameJpeg(episode, frame, view);
            if (!jpeg) return missing(`expected frame ${frame} of view ${view} in the recording, got none`);
            return reply.type('image/jpeg').send(jpeg);
          } catch (error) {
            if (!(error instanceof RecordingError)) throw error;
            log.warn(`dashboard: ${error.message}`);
            return reply.code(500).send({ error: error.message });
          }
        },
      );
      api.get('/status', async () => ({ ...loop.snapshot(), links: links() }));
      await api.register(estopRoute);
    },
    { prefix: '/api' },
  );

  // Prometheus scrapes /metrics with the token as a bearer token: the same check, its own plugin.
  const metrics = runMetrics(loop, events);
  await app.register(async (scrape) => {
    scrape.addHook('onRequest', refuseWithoutToken);
    scrape.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).header('cache-control', 'no-store').send(await metrics.text()));
  });

  /** The replay's `recording` field; a recording that cannot be read is null and says why, in one line. */
  async function recordingOf(episode: number): Promise<{ recording: RecordingInfo | null; recordingError?: string }> {
    try {
      return { recording: (await options.recordedFrames?.info(episode)) ?? null };
    } catch (error) {
      if (!(error instanceof RecordingError)) throw error;
      log.warn(`dashboard: ${error.message}`);
      return { recording: null, recordingError: error.message };
    }
  }

  function authorised(request: FastifyRequest): boolean {
    const header = request.headers.authorization;
    return tokenMatches(expected, header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined);
  }

  /** The onRequest hook of every plugin whose routes need the token: 401 before anything else runs. */
  async function refuseWithoutToken(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!authorised(request)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong token (Authorization: Bearer <token>)' });
    }
  }

  /**
   * POST /api/estop latches on any authenticated request, whatever its body: it latches in
   * onRequest, before the body is read, and reads the body (any type, as bytes) only to record
   * the reason. Errors after the latch (a body too large, a client that hangs up) still answer
   * that the e-stop is latched. Only the token decides.
   */
  async function estopRoute(route: FastifyInstance): Promise<void> {
    const latched = new WeakMap<FastifyRequest, { count: number; first: boolean; stopping: Promise<void> }>();
    route.removeAllContentTypeParsers();
    route.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    const answer = (request: FastifyRequest, note?: string) => {
      const latch = latched.get(request);
      return { ok: latch !== undefined, state: loop.runState, estopped: loop.estopped, reason: loop.snapshot().safety.estopReason, ...(note ? { note } : {}) };
    };
    route.setErrorHandler(async (error: { message: string }, request, reply) => {
      if (!latched.has(request)) return reply.code(500).send({ error: 'internal error' });
      log.warn(`dashboard: e-stop body not read (${error.message}); the e-stop is latched`);
      return reply.code(200).send(answer(request, `body not read: ${error.message}`));
    });
    route.post(
      '/estop',
      {
        onRequest: async (request) => {
          // The plugin's hook has refused a wrong token already; checked again because this latches.
          if (!authorised(request)) return;
          const first = !loop.estopped;
          const stopping = loop.estop('dashboard', 'e-stop over HTTP');
          latched.set(request, { count: loop.estopCount, first, stopping });
        },
      },
      async (request) => {
        const latch = latched.get(request)!;
        const reason = estopReason(request.body as Buffer | undefined, request.headers['content-type']);
        if (latch.first) loop.explainEstop(latch.count, reason, 'dashboard');
        else events.emit('estop', `${reason} (already latched)`, 'dashboard');
        await latch.stopping;
        return answer(request);
      },
    );
  }

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

  // A browser names the page that opened a websocket in Origin: only the dashboard's own page may
  // (a page elsewhere still lacks the token; this is the second lock). Clients that are not
  // browsers send no Origin.
  const originOk = (request: FastifyRequest): boolean => {
    const { origin, host } = request.headers;
    if (origin === undefined) return true;
    // A browser always sends Host; a request without one cannot show it is from our page.
    return host !== undefined && origin.toLowerCase() === `${https ? 'https' : 'http'}://${host}`.toLowerCase();
  };
  app.get(
    '/ws',
    {
      websocket: true,
      preValidation: async (request, reply) => {
        if (!originOk(request)) await reply.code(403).send({ error: `websocket from origin ${request.headers.origin ?? ''} refused: not the dashboard's own` });
      },
    },
    (socket: WebSocket) => {
      // The token arrives in the first message, {"type": "auth", "token": "..."}, never in the URL.
      const refuse = (why: string) => socket.close(4401, why);
      const timer = setTimeout(() => refuse('no auth message'), authTimeoutMs);
      const forget = (): void => {
        clearTimeout(timer);
        clients.delete(socket);
        congestedSince.delete(socket);
      };
      // ws emits 'close' after an 'error' too, and @fastify/websocket listens for the error.
      socket.on('close', forget);
      socket.once('message', (data: Buffer, isBinary: boolean) => {
        clearTimeout(timer);
        const message = isBinary ? null : parseJson(data.toString('utf8'));
        if (message?.type !== 'auth' || typeof message.token !== 'string' || !tokenMatches(expected, message.token)) {
          refuse('missing or wrong token');
          return;
        }
        clients.add(socket);
        socket.on('message', (next: Buffer, binary: boolean) => onClientMessage(socket, binary ? null : parseJson(next.toString('utf8'))));
        send(socket, JSON.stringify({ type: 'hello', snapshot: loop.snapshot(), events: events.recent(), frames: streamer.latest(), links: links() }));
      });
    },
  );

  /**
   * Messages of an authenticated viewer: teleop commands during an intervention,
   * {"type": "teleop", "action": {"translation": [vx, vy, vz], "yaw": r, "gripper": "open"|"closed"}}
   * (m/s, rad/s; launch/teleop.ts). Anything else is answered with one error line and changes nothing.
   */
  const onClientMessage = (socket: WebSocket, message: { type?: unknown; action?: unknown } | null): void => {
    const refuse = (error: string): void => void send(socket, JSON.stringify({ type: 'error', error }));
    if (message?.type !== 'teleop') {
      refuse(`expected a message {"type": "teleop", "action": {...}}, got ${message === null ? 'no JSON object' : `type ${JSON.stringify(message.type)}`}`);
      return;
    }
    const command = parseTeleop(message.action);
    if (typeof command === 'string') refuse(`teleop action: ${command}`);
    else if (!loop.teleop(command)) refuse('teleop ignored: no intervention is active (POST /api/intervention {"active": true} first)');
  };

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
        intervention: snapshot.intervention,
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

  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    // Nothing of this dashboard may outlive the error: its timers would keep the process alive.
    clearInterval(statusTimer);
    streamer.stop();
    unsubscribeUpdates();
    unsubscribeEvents();
    metrics.close();
    await app.close();
    throw listenError(error, options.host, options.port);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `${https ? 'https' : 'http'}://${shownHost}:${port}/`;
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
      metrics.close();
      for (const client of clients) client.terminate();
      clients.clear();
      await app.close();
    },
  };
}
