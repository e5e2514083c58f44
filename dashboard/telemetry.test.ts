import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import type { RunLoop } from '../launch/run-loop.js';
import { EventStream } from '../robot/events.js';
import { MOSQUITTO, Mosquitto, freePort } from './mosquitto.js';
import { startTelemetry } from './telemetry.js';
import { capturingLogger, openViewer, startTestServing, waitFor, type TestServing } from './testing.js';

if (!MOSQUITTO) console.warn('SKIPPED telemetry tests: mosquitto is not installed (.ci/run installs it with apt-get)');

interface Received {
  topic: string;
  payload: Record<string, unknown>;
  retain: boolean;
}

function subscribe(url: string, topic: string): Promise<{ client: MqttClient; messages: Received[] }> {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 200 });
  const messages: Received[] = [];
  client.on('message', (t, payload, packet) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(payload.toString()) as Record<string, unknown>;
    } catch {
      parsed = { raw: payload.toString() }; // the e-stop test also sends a plain-text payload
    }
    messages.push({ topic: t, payload: parsed, retain: packet.retain });
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => client.subscribe(topic, { qos: 1 }, (error) => (error ? reject(error) : resolve({ client, messages }))));
    client.once('error', reject);
  });
}

function publish(url: string, topic: string, payload: string, retain = false): Promise<void> {
  const client = mqtt.connect(url, { protocolVersion: 5 });
  return new Promise((resolve, reject) => {
    client.once('connect', () =>
      client.publish(topic, payload, { qos: 1, retain }, (error) => {
        void client.endAsync().then(() => (error ? reject(error) : resolve()));
      }),
    );
    client.once('error', reject);
  });
}

const keys = (payload: Record<string, unknown>) => Object.keys(payload).sort();

describe.skipIf(!MOSQUITTO)('MQTT telemetry against a real Mosquitto broker', () => {
  let broker: Mosquitto;
  let serving: TestServing;
  let watcher: { client: MqttClient; messages: Received[] };
  const prefix = 'lab/arm1';
  const of = (topic: string) => watcher.messages.filter((m) => m.topic === `${prefix}/${topic}`);

  beforeAll(async () => {
    broker = await Mosquitto.start();
    watcher = await subscribe(broker.url, `${prefix}/#`);
    serving = await startTestServing(
      { robot: { controlHz: 50, episodeSeconds: 0.4 }, reward: { shaping: { success: 'operator' } }, mqtt: { enabled: true, url: broker.url, topicPrefix: prefix, progressHz: 20 } },
      { autoStart: true },
    );
  });
  afterAll(async () => {
    await serving?.shutdown('tests done');
    await watcher?.client.endAsync();
    await broker?.stop();
  });

  it('publishes state, events, episode summaries and progress with the documented payloads', async () => {
    await waitFor(() => of('episodes').length >= 2 && of('progress').length >= 3 && of('events').length >= 3 && of('state').length >= 1, 'telemetry');

    const state = of('state').at(-1)!;
    expect(state.retain).toBe(false); // live delivery to a subscriber that was already there
    expect(keys(state.payload)).toEqual(['actions', 'estopped', 'online', 'progress', 'robot', 'state', 'time']);
    expect(state.payload).toMatchObject({ online: true, state: 'running', estopped: false });
    expect(state.payload.robot).toMatch(/test robot/);
    expect(state.payload.actions).toMatch(/^stand-in policy/);

    for (const event of of('events')) {
      expect(keys(event.payload)).toEqual(['detail', 'kind', 'source', 'time']);
      expect(typeof event.payload.time).toBe('number');
    }
    expect(of('events').some((e) => e.payload.kind === 'run' && e.payload.detail === 'run started')).toBe(true);

    const episode = of('episodes')[0]!.payload;
    expect(keys(episode)).toEqual(
      ['durationS', 'endedAt', 'episode', 'finalProgress', 'interventionSteps', 'judgedBy', 'outcome', 'rollouts', 'shapedReturn', 'startedAt', 'steps', 'success', 'successRate'].sort(),
    );
    expect(episode).toMatchObject({ episode: 1, outcome: 'time-limit', steps: 20, rollouts: 1, successRate: 0, interventionSteps: 0 });

    const progress = of('progress')[0]!.payload;
    expect(keys(progress)).toEqual(['episode', 'hop', 'latencyMs', 'progress', 'reward', 'step', 'time']);
    expect(progress.progress as number).toBeGreaterThanOrEqual(0);
    expect(progress.progress as number).toBeLessThanOrEqual(1);
  });

  it('keeps the last state retained for late subscribers', async () => {
    const late = await subscribe(broker.url, `${prefix}/state`);
    await waitFor(() => late.messages.length >= 1, 'the retained state');
    expect(late.messages[0]!.retain).toBe(true);
    expect(late.messages[0]!.payload.online).toBe(true);
    await late.client.endAsync();
  });

  it('a message on the e-stop topic stops the arm like the dashboard button, and reset releases it', async () => {
    const robot = serving.testRobot;
    await waitFor(() => robot.received.length > 5, 'actions');
    await publish(broker.url, `${prefix}/estop`, JSON.stringify({ reason: 'remote stop from the lab PLC' }));
    await waitFor(() => robot.stopCalls.length === 1, 'robot.stop');
    const count = robot.received.length;
    expect(serving.loop.snapshot().safety.estopReason).toMatch(/remote stop from the lab PLC \(mqtt\)/);
    await waitFor(() => of('events').some((e) => e.payload.kind === 'estop' && e.payload.source === 'mqtt'), 'the e-stop event');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(robot.received.length).toBe(count);

    // Not JSON: still an e-stop (any message on the topic counts).
    expect(serving.loop.resetEstop('test')).toBe(true);
    await waitFor(() => robot.received.length > count + 3, 'actions after reset');
    await publish(broker.url, `${prefix}/estop`, 'STOP');
    await waitFor(() => serving.loop.snapshot().estopped, 'the second e-stop');
    expect(robot.stopCalls).toHaveLength(2);
    serving.loop.resetEstop('test');
  });

  it('keeps running while the broker is down, then reconnects and delivers what was queued', async () => {
    const robot = serving.testRobot;
    await broker.pause();
    await waitFor(() => !serving.telemetry!.stats().connected, 'telemetry to notice the broker is gone');
    const before = robot.received.length;
    serving.events.emit('run', 'emitted while the broker was down', 'test');
    await waitFor(() => robot.received.length > before + 20, 'the run to go on without the broker');
    expect(serving.telemetry!.stats().queued).toBeGreaterThan(0);

    await broker.resume();
    await waitFor(() => serving.telemetry!.stats().connected, 'telemetry to reconnect');
    await waitFor(() => of('events').some((e) => e.payload.detail === 'emitted while the broker was down'), 'the queued event');
    expect(serving.telemetry!.stats().reconnects).toBeGreaterThan(0);
    const progressBefore = of('progress').length;
    await waitFor(() => of('progress').length > progressBefore, 'progress after reconnecting');
  });
});

/** The parts of a run loop telemetry reads (it only publishes them here). */
function quietLoop(): RunLoop {
  const snapshot = { state: 'idle', estopped: false, sources: { robot: 'r', actions: 'a', progress: 'p' } };
  return { snapshot: () => snapshot, onUpdate: () => () => undefined, estop: async () => undefined } as unknown as RunLoop;
}

describe.skipIf(!MOSQUITTO)('MQTT credentials and the link the operator sees', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('never logs the broker password (connect, disconnect, reconnect), and reports the link once per outage', async () => {
    const password = 'Pa55-broker-secret';
    const lines: string[] = [];
    const events = new EventStream(systemClock);
    const telemetry = startTelemetry({
      url: `mqtt://robot:${password}@127.0.0.1:${broker.port}`,
      topicPrefix: 'lab/creds',
      progressHz: 1,
      loop: quietLoop(),
      events,
      log: capturingLogger(lines),
      reconnectMs: 100,
    });
    try {
      expect(await telemetry.ready(10_000)).toBe(true);
      expect(telemetry.link()).toMatchObject({ connected: true, remoteEstop: true });
      await broker.pause();
      await waitFor(() => !telemetry.link().connected, 'the link to go down');
      const downSince = telemetry.link().since;
      expect(telemetry.link().remoteEstop).toBe(false);
      // Several reconnection attempts while the broker is away: still one event.
      await waitFor(() => telemetry.stats().reconnects >= 3, 'reconnection attempts');
      await broker.resume();
      await waitFor(() => telemetry.link().remoteEstop, 'the link to come back');
      expect(telemetry.link().since).toBeGreaterThanOrEqual(downSince);
    } finally {
      await telemetry.close();
    }
    const links = events.recent().filter((e) => e.kind === 'link');
    expect(links.map((e) => e.detail)).toEqual([
      `MQTT connected to mqtt://robot:***@127.0.0.1:${broker.port}: remote e-stop on lab/creds/estop available`,
      `MQTT broker mqtt://robot:***@127.0.0.1:${broker.port} lost: remote e-stop unavailable until it is back`,
      `MQTT connected to mqtt://robot:***@127.0.0.1:${broker.port}: remote e-stop on lab/creds/estop available`,
    ]);
    expect(lines.some((l) => l.includes(`connected to mqtt://robot:***@127.0.0.1:${broker.port}`))).toBe(true);
    expect(lines.some((l) => l.includes('unreachable'))).toBe(true);
    for (const line of lines) expect(line).not.toContain(password);
  }, 60_000);

  it('shows the link and the remote e-stop on the dashboard: /api/status, status messages and events', async () => {
    const serving = await startTestServing({ robot: { controlHz: 20 }, mqtt: { enabled: true, url: broker.url, topicPrefix: 'lab/links' } }, { autoStart: true });
    const socket = openViewer(serving.dashboard.url, serving.dashboard.token);
    const messages: { type: string; links?: { mqtt?: { connected: boolean; since: number; remoteEstop: boolean } } }[] = [];
    socket.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as (typeof messages)[number]));
    const status = async () =>
      ((await (await fetch(`${serving.dashboard.url}api/status`, { headers: { authorization: `Bearer ${serving.dashboard.token}` } })).json()) as { links: { mqtt: { connected: boolean; since: number; remoteEstop: boolean } } | null }).links;
    try {
      expect(await status()).toMatchObject({ mqtt: { connected: true, remoteEstop: true } });
      await waitFor(() => messages.some((m) => m.type === 'hello'), 'hello');
      expect(messages.find((m) => m.type === 'hello')!.links?.mqtt?.connected).toBe(true);
      await broker.pause();
      await waitFor(async () => (await status())?.mqtt.connected === false, '/api/status to show the link down');
      expect((await status())!.mqtt.remoteEstop).toBe(false);
      await waitFor(() => messages.some((m) => m.type === 'status' && m.links?.mqtt?.connected === false && m.links.mqtt.remoteEstop === false), 'a status message with the link down');
      await waitFor(() => messages.some((m) => m.type === 'event' && (m as { event?: { kind: string } }).event?.kind === 'link'), 'the link event');
    } finally {
      socket.close();
      await broker.resume();
      await serving.shutdown('test done');
    }
  }, 60_000);

  it('applies a retained e-stop before the first action', async () => {
    const prefix = 'lab/retained';
    await publish(broker.url, `${prefix}/estop`, JSON.stringify({ reason: 'retained stop from the PLC' }), true);
    // 50 Hz: without the wait, several actions pass in the time the retained message takes.
    const serving = await startTestServing({ robot: { controlHz: 50 }, mqtt: { enabled: true, url: broker.url, topicPrefix: prefix } }, { autoStart: true });
    try {
      expect(serving.loop.snapshot().estopped).toBe(true);
      expect(serving.loop.snapshot().safety.estopReason).toMatch(/retained stop from the PLC/);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(serving.robot.status().counts.forwarded).toBe(0);
      expect(serving.testRobot.received).toHaveLength(0);
    } finally {
      await serving.shutdown('test done');
      await publish(broker.url, `${prefix}/estop`, '', true); // clears the retained message
    }
  }, 60_000);

  it('starts after mqtt.connectWaitMs when the broker is down, with a warning event', async () => {
    const port = await freePort(); // nothing listens there
    const started = Date.now();
    const serving = await startTestServing({ robot: { controlHz: 50 }, mqtt: { enabled: true, url: `mqtt://127.0.0.1:${port}`, connectWaitMs: 400 } }, { autoStart: true });
    try {
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      expect(serving.events.recent().some((e) => e.kind === 'link' && /not ready within 400 ms \(mqtt\.connectWaitMs\): starting without the remote e-stop/.test(e.detail))).toBe(true);
      await waitFor(() => serving.robot.status().counts.forwarded > 3, 'the run to act without the broker');
      expect(serving.telemetry!.link()).toMatchObject({ connected: false, remoteEstop: false });
    } finally {
      await serving.shutdown('test done');
    }
  }, 60_000);
});
