/**
 * The remote e-stop over MQTT in detail, against a real Mosquitto: the reason a message gives (or
 * the default), what the counters and the retained state say, who the link events name, and the
 * password kept out of logs even where an error message carries it. telemetry.test.ts covers the
 * loop end to end; these pin down what it leaves loose. Written against the mutants StrykerJS left alive.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { RunLoop } from '../launch/run-loop.js';
import { EventStream } from '../robot/events.js';
import { MOSQUITTO, Mosquitto } from './mosquitto.js';
import { startTelemetry, type Telemetry } from './telemetry.js';
import { waitFor } from './testing.js';

function capturingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
    child: () => logger,
  };
  return logger;
}

/** The parts of a run loop telemetry uses, recording the e-stops it asks for. */
function recordingLoop(estops: [string, string][]): RunLoop {
  const snapshot = { state: 'idle', estopped: false, sources: { robot: 'r', actions: 'a', progress: 'p' } };
  return {
    snapshot: () => snapshot,
    onUpdate: () => () => undefined,
    estop: async (source: string, reason: string) => void estops.push([source, reason]),
  } as unknown as RunLoop;
}

function connect(url: string): Promise<MqttClient> {
  const client = mqtt.connect(url, { protocolVersion: 5 });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

describe.skipIf(!MOSQUITTO)('MQTT remote e-stop: details', () => {
  let broker: Mosquitto;
  let telemetry: Telemetry;
  let publisher: MqttClient;
  const estops: [string, string][] = [];
  const lines: string[] = [];
  const events = new EventStream(systemClock);
  const prefix = 'plant/state/arm'; // "/state" inside the prefix, not only at the end of the state topic

  beforeAll(async () => {
    broker = await Mosquitto.start();
    telemetry = startTelemetry({ url: broker.url, topicPrefix: prefix, progressHz: 1, loop: recordingLoop(estops), events, log: capturingLogger(lines), reconnectMs: 100 });
    expect(await telemetry.ready(10_000)).toBe(true);
    publisher = await connect(broker.url);
  });
  afterAll(async () => {
    await publisher?.endAsync();
    await telemetry?.close();
    await broker?.stop();
  });

  const send = async (payload: string): Promise<void> => {
    const before = estops.length;
    await publisher.publishAsync(`${prefix}/estop`, payload, { qos: 1 });
    await waitFor(() => estops.length > before, 'the e-stop');
  };

  it('names the prefix and the link it made, from the mqtt source', () => {
    expect(lines).toContain(`info telemetry: connected to ${broker.url} (prefix ${prefix})`);
    expect(events.recent().filter((e) => e.kind === 'link').map((e) => [e.detail, e.source])).toEqual([
      [`MQTT connected to ${broker.url}: remote e-stop on ${prefix}/estop available`, 'mqtt'],
    ]);
    // two publishes so far: the retained state sent once the e-stop subscription was granted, and that link event
    expect(telemetry.stats()).toMatchObject({ published: 2, estopsReceived: 0 });
  });

  it('leaves the state retained for a subscriber that comes later', async () => {
    const late = await connect(broker.url);
    const retained = await new Promise<{ retain: boolean; online: unknown }>((resolve) => {
      late.on('message', (_topic, payload, packet) => resolve({ retain: packet.retain, online: (JSON.parse(payload.toString()) as { online: unknown }).online }));
      void late.subscribeAsync(`${prefix}/state`, { qos: 1 });
    });
    expect(retained).toEqual({ retain: true, online: true });
    await late.endAsync();
  });

  it('stops with the reason given, cut at 200 characters, or the default reason; every message counts', async () => {
    await send(JSON.stringify({ reason: 'light curtain' }));
    await send(JSON.stringify({ reason: 'r'.repeat(250) }));
    await send(JSON.stringify({ reason: '' }));
    await send(JSON.stringify({ reason: 7 }));
    await send('STOP');
    expect(estops).toEqual([
      ['mqtt', 'light curtain'],
      ['mqtt', 'r'.repeat(200)],
      ['mqtt', 'remote e-stop over MQTT'],
      ['mqtt', 'remote e-stop over MQTT'],
      ['mqtt', 'remote e-stop over MQTT'],
    ]);
    expect(telemetry.stats().estopsReceived).toBe(5);
  });

  it('reports a lost link from the mqtt source', async () => {
    await broker.pause();
    await waitFor(() => !telemetry.link().connected, 'the link to go down');
    expect(events.recent().filter((e) => e.kind === 'link').at(-1)).toMatchObject({ detail: `MQTT broker ${broker.url} lost: remote e-stop unavailable until it is back`, source: 'mqtt' });
    await broker.resume();
    await waitFor(() => telemetry.link().remoteEstop, 'the link to come back');
  });
});

describe('MQTT telemetry: the password stays out of the logs', () => {
  it('even in an error message that carries it (here a broker host named like it)', async () => {
    const password = 'pw-in-the-host-4242';
    const lines: string[] = [];
    const telemetry = startTelemetry({
      url: `mqtt://${password}.invalid:1883`, username: 'robot', password, shownUrl: 'the broker',
      topicPrefix: 'lab/pw', progressHz: 1, loop: recordingLoop([]), events: new EventStream(systemClock), log: capturingLogger(lines), reconnectMs: 50,
    });
    try {
      await waitFor(() => lines.some((l) => l.startsWith('debug telemetry: ') && l.includes('***')), 'a connection error in the log', 10_000);
    } finally {
      await telemetry.close();
    }
    for (const line of lines) expect(line).not.toContain(password);
  });
});
