/**
 * The run for Foxglove, live: the Foxglove WebSocket protocol (`foxglove.websocket.v1`,
 * @foxglove/ws-protocol's server) on its own port, so that Foxglove's Image, Plot and State
 * Transitions panels work against a running `serve`. JSON channels with JSON Schemas:
 *
 *   /<camera>/image       foxglove.CompressedImage (JPEG), at dashboard.cameraFps, encoded only while subscribed
 *   /joint_states         joint positions of every step
 *   /ee_pose              foxglove.PoseInFrame, the end-effector pose of every step
 *   /dopamine/progress    fused progress, hop, shaped reward of every scored step
 *   /dopamine/status      run state, e-stop and intervention flags, success rate (every step, at most 10 Hz)
 *   /dopamine/episode     each ended episode: outcome, success, intervention steps
 *   /dopamine/safety      safety events (clipped, refused, holds, e-stops, faults)
 *
 * Read-only: the server advertises no client publishing, parameters or services, so nothing a
 * client sends can change the run. It binds where the dashboard binds and follows its rule (a
 * non-loopback address needs TLS, served with the dashboard's certificate, or dashboard.insecure).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import foxgloveProtocol from '@foxglove/ws-protocol';
import sharp from 'sharp';
import { WebSocketServer } from 'ws';
import type { Logger } from '../common/log.js';
import { listenError } from '../common/net.js';
import type { RunLoop } from '../launch/run-loop.js';
import type { EventStream, RunEvent } from '../robot/events.js';
import type { ArmState, FrameSource } from '../robot/types.js';
import { checkBindAddress } from './server.js';

export interface FoxgloveOptions {
  loop: RunLoop;
  events: EventStream;
  cameras: readonly FrameSource[];
  host: string;
  port: number;
  /** Camera images per second. */
  fps: number;
  tls?: { cert: string; key: string };
  insecure?: boolean;
  log: Logger;
}

export interface FoxgloveLive {
  /** ws(s)://host:port */
  url: string;
  port: number;
  close(): Promise<void>;
}

const time = { type: 'object', properties: { sec: { type: 'integer' }, nsec: { type: 'integer' } } };
const vector = (keys: string[]) => ({ type: 'object', properties: Object.fromEntries(keys.map((k) => [k, { type: 'number' }])) });
const SCHEMAS = {
  image: {
    name: 'foxglove.CompressedImage',
    schema: { type: 'object', properties: { timestamp: time, frame_id: { type: 'string' }, data: { type: 'string', contentEncoding: 'base64' }, format: { type: 'string' } } },
  },
  pose: {
    name: 'foxglove.PoseInFrame',
    schema: {
      type: 'object',
      properties: { timestamp: time, frame_id: { type: 'string' }, pose: { type: 'object', properties: { position: vector(['x', 'y', 'z']), orientation: vector(['x', 'y', 'z', 'w']) } } },
    },
  },
  joints: { name: 'dopamine.JointState', schema: { type: 'object', properties: { positions: { type: 'array', items: { type: 'number' } }, gripperOpening: { type: 'number' } } } },
  progress: { name: 'dopamine.Progress', schema: { type: 'object', properties: { episode: { type: 'integer' }, step: { type: 'integer' }, progress: { type: 'number' }, hop: { type: 'number' }, reward: { type: 'number' } } } },
  status: {
    name: 'dopamine.Status',
    schema: { type: 'object', properties: { state: { type: 'string' }, estopped: { type: 'boolean' }, intervention: { type: 'boolean' }, episode: { type: 'integer' }, successRate: { type: ['number', 'null'] } } },
  },
  episode: { name: 'dopamine.Episode', schema: { type: 'object', properties: { episode: { type: 'integer' }, outcome: { type: 'string' }, success: { type: 'boolean' }, interventionSteps: { type: 'integer' } } } },
  safety: { name: 'dopamine.SafetyEvent', schema: { type: 'object', properties: { kind: { type: 'string' }, detail: { type: 'string' }, source: { type: 'string' } } } },
};
// A CommonJS package without named ESM exports for its classes: taken from its default export.
const { FoxgloveServer } = foxgloveProtocol;
const SAFETY_KINDS = new Set<RunEvent['kind']>(['clipped', 'refused', 'non-finite', 'hold', 'release', 'joint-limit', 'estop', 'estop-reset', 'fault']);

function stampOf(ms: number): { sec: number; nsec: number } {
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: Math.round((ms - sec * 1000) * 1e6) };
}

export async function startFoxglove(options: FoxgloveOptions): Promise<FoxgloveLive> {
  const { loop, events, log } = options;
  checkBindAddress(options.host, options.tls !== undefined, options.insecure === true);
  const foxglove = new FoxgloveServer({ name: 'robo-dopamine serve', capabilities: [] });
  const channel = (topic: string, kind: keyof typeof SCHEMAS): number =>
    foxglove.addChannel({ topic, encoding: 'json', schemaName: SCHEMAS[kind].name, schema: JSON.stringify(SCHEMAS[kind].schema), schemaEncoding: 'jsonschema' });
  const images = options.cameras.map((camera) => ({ camera, id: channel(`/${camera.camera}/image`, 'image'), lastStamp: -1 }));
  const ids = {
    joints: channel('/joint_states', 'joints'),
    pose: channel('/ee_pose', 'pose'),
    progress: channel('/dopamine/progress', 'progress'),
    status: channel('/dopamine/status', 'status'),
    episode: channel('/dopamine/episode', 'episode'),
    safety: channel('/dopamine/safety', 'safety'),
  };
  const subscribed = new Set<number>();
  foxglove.on('subscribe', (id) => subscribed.add(id));
  foxglove.on('unsubscribe', (id) => subscribed.delete(id));
  foxglove.on('error', (error) => log.warn(`foxglove: ${error.message}`));
  const encoder = new TextEncoder();
  const send = (id: number, message: unknown, ms = Date.now()): void => {
    if (subscribed.has(id)) foxglove.sendMessage(id, BigInt(Math.round(ms)) * 1_000_000n, encoder.encode(JSON.stringify(message)));
  };

  let lastStatusAt = 0;
  const sendState = (state: ArmState): void => {
    const now = Date.now();
    send(ids.joints, { positions: state.jointPositions, gripperOpening: state.gripperOpening }, now);
    const [x, y, z] = state.eePosition;
    const half = state.eeYaw / 2;
    send(ids.pose, { timestamp: stampOf(now), frame_id: 'base', pose: { position: { x, y, z }, orientation: { x: 0, y: 0, z: Math.sin(half), w: Math.cos(half) } } }, now);
    if (now - lastStatusAt >= 100) {
      lastStatusAt = now;
      sendStatus();
    }
  };
  const sendStatus = (): void => {
    if (!subscribed.has(ids.status)) return;
    const s = loop.snapshot();
    send(ids.status, { state: s.state, estopped: s.estopped, intervention: s.intervention, episode: s.episode?.index ?? 0, successRate: s.successRate });
  };
  const stopUpdates = loop.onUpdate((update) => {
    if (update.type === 'step') sendState(update.state);
    else if (update.type === 'progress') send(ids.progress, { episode: update.point.episode, step: update.point.step, progress: update.point.progress, hop: update.point.hop, reward: update.point.reward });
    else if (update.type === 'episode') {
      const e = update.summary;
      send(ids.episode, { episode: e.episode, outcome: e.outcome, success: e.success, interventionSteps: e.interventionSteps });
    } else if (update.type === 'state' || update.type === 'intervention') sendStatus();
  });
  const stopEvents = events.subscribe((event) => {
    if (SAFETY_KINDS.has(event.kind)) send(ids.safety, { kind: event.kind, detail: event.detail, source: event.source });
  });

  // Camera images at the configured rate, each new frame once, encoded only for a subscriber.
  let encoding = false;
  const imageTimer = setInterval(
    () => {
      if (encoding) return;
      const due = images.filter((image) => subscribed.has(image.id) && (image.camera.latest()?.stampMs ?? -1) !== image.lastStamp);
      if (due.length === 0) return;
      encoding = true;
      void Promise.all(
        due.map(async (image) => {
          const frame = image.camera.latest();
          if (!frame) return;
          image.lastStamp = frame.stampMs;
          const jpeg = await sharp(frame.rgb, { raw: { width: frame.width, height: frame.height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
          send(image.id, { timestamp: stampOf(Date.now()), frame_id: frame.camera, data: jpeg.toString('base64'), format: 'jpeg' });
        }),
      )
        .catch((error: unknown) => log.warn(`foxglove: camera image not sent: ${error instanceof Error ? error.message : String(error)}`))
        .finally(() => {
          encoding = false;
        });
    },
    Math.max(1, Math.round(1000 / options.fps)),
  );

  const http: Server = options.tls
    ? createHttpsServer({ cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) })
    : createHttpServer();
  http.on('request', (_request, response) => response.writeHead(426, { 'content-type': 'text/plain' }).end('Foxglove WebSocket (foxglove.websocket.v1): connect with Foxglove\n'));
  const wss = new WebSocketServer({ server: http, handleProtocols: (protocols) => foxglove.handleProtocols(protocols) });
  wss.on('connection', (socket, request) => foxglove.handleConnection(socket, `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`));

  const stop = (): void => {
    clearInterval(imageTimer);
    stopUpdates();
    stopEvents();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port, options.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    stop();
    wss.close();
    throw listenError(error, options.host, options.port, 'dashboard.foxglovePort');
  }
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `${options.tls ? 'wss' : 'ws'}://${shownHost}:${port}`,
    port,
    async close() {
      stop();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
