/**
 * MQTT 5 telemetry (mqtt.js): run state, events, episode summaries and a low-rate progress stream
 * under one topic prefix, and a remote e-stop topic. Payloads are documented in
 * docs/telemetry.md. The broker being away never blocks the run: mqtt.js reconnects, events and
 * episodes wait in a bounded queue, progress samples are dropped.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../common/log.js';
import { redactText, redactUrl } from '../config/secrets.js';
import type { EventStream, RunEvent } from '../robot/events.js';
import type { EpisodeSummary, ProgressPoint, RunLoop, RunState } from '../launch/run-loop.js';

/** How long close() waits for the broker to acknowledge the offline state. */
const GOODBYE_TIMEOUT_MS = 2000;

export interface TelemetryOptions {
  /** Broker URL; credentials are better given as username and password (logs show a URL's password as ***). */
  url: string;
  username?: string;
  password?: string;
  /** How logs and events show the broker (default: the URL with its password redacted). */
  shownUrl?: string;
  topicPrefix: string;
  /** Largest rate of progress messages, per second. */
  progressHz: number;
  loop: RunLoop;
  events: EventStream;
  log: Logger;
  /** Delay between reconnection attempts, ms. */
  reconnectMs?: number;
  /** Events and episode summaries kept while the broker is away (oldest dropped first). */
  queueLimit?: number;
}

export interface TelemetryStats {
  connected: boolean;
  published: number;
  queued: number;
  droppedWhileOffline: number;
  reconnects: number;
  estopsReceived: number;
  /** The link as the operator sees it (dashboard status). */
  link: LinkState;
}

/** The broker link and, with it, the remote e-stop. */
export interface LinkState {
  connected: boolean;
  /** When the link last went up or down (or telemetry started), ms since the epoch. */
  since: number;
  /** The e-stop topic is subscribed: a remote e-stop would stop the arm now. */
  remoteEstop: boolean;
}

/** Links whose loss the dashboard shows (null: none configured). */
export interface Links {
  mqtt?: LinkState;
}

export interface Telemetry {
  topics: TelemetryTopics;
  stats(): TelemetryStats;
  link(): LinkState;
  /**
   * Resolves true once connected, subscribed to the e-stop topic and past any retained e-stop
   * (applied by then), or false after timeoutMs.
   */
  ready(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface TelemetryTopics {
  state: string;
  events: string;
  episodes: string;
  progress: string;
  estop: string;
}

export function telemetryTopics(prefix: string): TelemetryTopics {
  const base = prefix.replace(/\/+$/, '');
  return { state: `${base}/state`, events: `${base}/events`, episodes: `${base}/episodes`, progress: `${base}/progress`, estop: `${base}/estop` };
}

/** Payload of `<prefix>/state` (retained; the broker publishes `online: false` when we vanish). */
export interface StatePayload {
  online: boolean;
  state: RunState | 'offline';
  estopped: boolean;
  robot: string;
  actions: string;
  progress: string;
  time: number;
}

/** Payload of `<prefix>/progress`. */
export interface ProgressPayload {
  episode: number;
  step: number;
  hop: number;
  progress: number;
  reward: number;
  latencyMs: number;
  time: number;
}

export type EventPayload = RunEvent;
export type EpisodePayload = EpisodeSummary & { successRate: number | null; rollouts: number };

interface Outgoing {
  topic: string;
  payload: string;
  retain: boolean;
}

export function startTelemetry(options: TelemetryOptions): Telemetry {
  const { loop, events, log } = options;
  const topics = telemetryTopics(options.topicPrefix);
  const queueLimit = options.queueLimit ?? 1000;
  const queue: Outgoing[] = [];
  const counts = { published: 0, droppedWhileOffline: 0, reconnects: 0, estopsReceived: 0 };
  let lastProgressAt = 0;
  let closed = false;
  const shownUrl = options.shownUrl ?? redactUrl(options.url);
  const scrub = (text: string): string => redactText(text, [options.password]);
  // 'starting' until the first connection or failure; events only on transitions, not per reconnect attempt.
  let linkPhase: 'starting' | 'up' | 'down' = 'starting';
  const link: LinkState = { connected: false, since: Date.now(), remoteEstop: false };
  let markReady: () => void = () => undefined;
  const readyOnce = new Promise<void>((resolve) => (markReady = resolve));
  const linkDown = (why: string): void => {
    link.connected = false;
    link.remoteEstop = false;
    if (closed || linkPhase === 'down') return;
    linkPhase = 'down';
    link.since = Date.now();
    events.emit('link', `MQTT broker ${shownUrl} ${why}: remote e-stop unavailable until it is back`, 'mqtt');
  };

  const offlineState: StatePayload = { online: false, state: 'offline', estopped: false, robot: '', actions: '', progress: '', time: 0 };
  const client: MqttClient = mqtt.connect(options.url, {
    protocolVersion: 5,
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    reconnectPeriod: options.reconnectMs ?? 1000,
    connectTimeout: 5000,
    // mqtt.js would otherwise queue without bound while offline; we keep our own bounded queue.
    queueQoSZero: false,
    clean: true,
    will: { topic: topics.state, payload: Buffer.from(JSON.stringify(offlineState)), qos: 1, retain: true },
  });

  const publishNow = (message: Outgoing, qos: 0 | 1): void => {
    client.publish(message.topic, message.payload, { qos, retain: message.retain }, (error) => {
      if (error) log.debug(`telemetry publish to ${message.topic} failed: ${error.message}`);
    });
    counts.published++;
  };
  // Events, episodes and state are worth keeping while the broker is away; progress is not.
  const publishKept = (message: Outgoing): void => {
    if (client.connected) return publishNow(message, 1);
    queue.push(message);
    if (queue.length > queueLimit) {
      queue.shift();
      counts.droppedWhileOffline++;
    }
  };
  const statePayload = (): StatePayload => {
    const snapshot = loop.snapshot();
    return {
      online: true,
      state: snapshot.state,
      estopped: snapshot.estopped,
      robot: snapshot.sources.robot,
      actions: snapshot.sources.actions,
      progress: snapshot.sources.progress,
      time: Date.now(),
    };
  };

  client.on('connect', () => {
    log.info(`telemetry: connected to ${shownUrl} (prefix ${topics.state.replace(/\/state$/, '')})`);
    link.connected = true;
    // mqtt.js reports a refused subscription (a SUBACK reason code of 0x80 or above) as the error.
    client.subscribe(topics.estop, { qos: 1 }, (refused) => {
      if (refused) {
        log.warn(`telemetry: cannot subscribe to ${topics.estop}: ${scrub(refused.message)}`);
        if (!closed) events.emit('link', `MQTT connected to ${shownUrl} but cannot subscribe to ${topics.estop}: remote e-stop unavailable`, 'mqtt');
      } else if (client.connected) {
        link.remoteEstop = true;
        // One subscription per connection, and every connection follows a 'close' (the phase is
        // then 'down') or the start: the phase is never 'up' here, so each grant says so once.
        if (!closed) {
          linkPhase = 'up';
          link.since = Date.now();
          events.emit('link', `MQTT connected to ${shownUrl}: remote e-stop on ${topics.estop} available`, 'mqtt');
        }
      }
      // Gone again (the next connection subscribes and flushes), or closing: the goodbye is the last state.
      if (!client.connected || closed) return;
      // Sent after the SUBACK: the broker delivers retained messages of the subscription before it
      // handles this publish, so its PUBACK means any retained e-stop has arrived (and latched).
      client.publish(topics.state, JSON.stringify(statePayload()), { qos: 1, retain: true }, (publishError) => {
        if (!publishError && !refused) markReady();
      });
      counts.published++;
      for (const message of queue.splice(0)) publishNow(message, 1);
    });
  });
  client.on('reconnect', () => {
    counts.reconnects++;
  });
  client.on('close', () => linkDown(linkPhase === 'starting' ? 'not reachable' : 'lost'));
  client.on('offline', () => log.warn(`telemetry: broker ${shownUrl} unreachable; the run goes on, reconnecting`));
  client.on('error', (error) => log.debug(`telemetry: ${scrub(error.message)}`));
  client.on('message', (topic, payload) => {
    if (topic !== topics.estop) return;
    counts.estopsReceived++;
    // Any message on the e-stop topic stops the arm; a readable reason is shown when given.
    let reason = 'remote e-stop over MQTT';
    try {
      const body = JSON.parse(payload.toString('utf8')) as { reason?: unknown };
      if (typeof body.reason === 'string' && body.reason.length > 0) reason = body.reason.slice(0, 200);
    } catch {
      // not JSON: still an e-stop
    }
    void loop.estop('mqtt', reason);
  });

  const unsubscribeEvents = events.subscribe((event) => publishKept({ topic: topics.events, payload: JSON.stringify(event satisfies EventPayload), retain: false }));
  const unsubscribeUpdates = loop.onUpdate((update) => {
    if (update.type === 'state') {
      publishKept({ topic: topics.state, payload: JSON.stringify(statePayload()), retain: true });
    } else if (update.type === 'episode') {
      const payload: EpisodePayload = { ...update.summary, successRate: update.successRate, rollouts: update.rollouts };
      publishKept({ topic: topics.episodes, payload: JSON.stringify(payload), retain: false });
    } else if (update.type === 'progress') {
      const now = Date.now();
      if (!client.connected || now - lastProgressAt < 1000 / options.progressHz) return;
      lastProgressAt = now;
      const point: ProgressPoint = update.point;
      const payload: ProgressPayload = {
        episode: point.episode,
        step: point.step,
        hop: point.hop,
        progress: point.progress,
        reward: point.reward,
        latencyMs: point.latencyMs,
        time: now,
      };
      publishNow({ topic: topics.progress, payload: JSON.stringify(payload), retain: false }, 0);
    }
  });

  return {
    topics,
    stats: () => ({ connected: client.connected, queued: queue.length, ...counts, link: { ...link } }),
    link: () => ({ ...link }),
    async ready(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      try {
        return await Promise.race([readyOnce.then(() => true), timedOut]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      unsubscribeEvents();
      unsubscribeUpdates();
      // A broker that stops answering must not hold the shutdown. The goodbye gets a few seconds;
      // an orderly end waits for every answer still owed (the goodbye's, a subscription's), so
      // with any owed the connection is dropped instead (and the broker publishes the will: offline).
      let acknowledged = false;
      if (client.connected) {
        const goodbye: StatePayload = { ...statePayload(), online: false, state: 'offline' };
        let timer: NodeJS.Timeout | undefined;
        acknowledged = await Promise.race([
          new Promise<boolean>((resolve) => client.publish(topics.state, JSON.stringify(goodbye), { qos: 1, retain: true }, (error) => resolve(!error))),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), GOODBYE_TIMEOUT_MS))),
        ]);
        clearTimeout(timer);
      }
      await client.endAsync(!acknowledged || Object.keys(client.outgoing).length > 0);
    },
  };
}
