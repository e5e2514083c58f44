/**
 * The remote e-stop over MQTT in detail, against a real Mosquitto: the reason a message gives (or
 * the default), what the counters and the retained state say, who the link events name, and the
 * password kept out of logs even where an error message carries it. telemetry.test.ts covers the
 * loop end to end; these pin down what it leaves loose. Written against the mutants StrykerJS left alive.
 */
import { createServer, type AddressInfo } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import type { RunLoop } from '../launch/run-loop.js';
import { EventStream } from '../robot/events.js';
import { MOSQUITTO, Mosquitto } from './mosquitto.js';
import { startTelemetry, type Telemetry } from './telemetry.js';
import { capturingLogger, waitFor } from './testing.js';

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

  it('ready() leaves no timer behind once it has answered', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    expect(await telemetry.ready(60_000)).toBe(true);
    expect(timers()).toBe(before);
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

/**
 * A broker that accepts the connection, answers every subscription with `reason` (MQTT 5 SUBACK
 * reason codes: 0x01 grants QoS 1, 0x80 and above refuse), and acknowledges publishes. Mosquitto
 * grants a subscription its ACL denies, so a refusal needs this stand-in. `answer` says when the
 * SUBACK goes out: at once, just before the PUBACK of the client's offline state (a broker slow to
 * answer), or never. `states` keeps each retained state the client published, in order, and
 * `subscriptions` each topic asked for with its QoS. Raw MQTT 5 packets, no library.
 */
async function standInBroker(
  reason: number,
  { answer = 'at once' }: { answer?: 'at once' | 'at the goodbye' | 'never' } = {},
): Promise<{ url: string; states: string[]; subscriptions: string[]; close: () => Promise<void> }> {
  const states: string[] = [];
  const subscriptions: string[] = [];
  const server = createServer((socket) => {
    let buffer = Buffer.alloc(0);
    let heldSuback: Buffer | undefined;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        // fixed header: type byte, then the remaining length as a variable-length integer
        let length = 0;
        let multiplier = 1;
        let at = 1;
        for (; at < buffer.length; at++) {
          length += (buffer[at]! & 0x7f) * multiplier;
          multiplier *= 128;
          if ((buffer[at]! & 0x80) === 0) break;
        }
        if (at >= buffer.length || buffer.length < at + 1 + length) return;
        const type = buffer[0]! >> 4;
        const qos = (buffer[0]! >> 1) & 3;
        const retain = (buffer[0]! & 1) === 1;
        const body = buffer.subarray(at + 1, at + 1 + length);
        buffer = buffer.subarray(at + 1 + length);
        if (type === 1) socket.write(Buffer.from([0x20, 0x03, 0x00, 0x00, 0x00])); // CONNACK: accepted, no properties
        else if (type === 8) {
          // packet id, properties (their length: one byte below 128), then the topic and its options byte
          const at = 2 + 1 + body[2]!;
          const topicLength = body.readUInt16BE(at);
          subscriptions.push(`${body.subarray(at + 2, at + 2 + topicLength).toString()} qos ${body[at + 2 + topicLength]! & 3}`);
          const suback = Buffer.from([0x90, 0x04, body[0]!, body[1]!, 0x00, reason]);
          if (answer === 'at once') socket.write(suback);
          else if (answer === 'at the goodbye') heldSuback = suback;
        } else if (type === 3) {
          // topic, packet id (QoS > 0), properties (their length: one byte below 128), payload
          const topicLength = body.readUInt16BE(0);
          const idLength = qos > 0 ? 2 : 0;
          const payload = body.subarray(2 + topicLength + idLength + 1 + body[2 + topicLength + idLength]!).toString();
          if (retain && body.subarray(2, 2 + topicLength).toString().endsWith('/state')) states.push(payload);
          if (heldSuback && payload.includes('"state":"offline"')) {
            socket.write(heldSuback);
            heldSuback = undefined;
          }
          if (qos === 0) continue;
          socket.write(Buffer.from([0x40, 0x02, body[2 + topicLength]!, body[3 + topicLength]!])); // PUBACK
        } else if (type === 12) socket.write(Buffer.from([0xd0, 0x00])); // PINGRESP
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `mqtt://127.0.0.1:${port}`, states, subscriptions, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('MQTT remote e-stop: a broker that refuses the subscription', () => {
  it.each([0x80, 0x87])('says so once, from the mqtt source, and is never ready (reason %i)', async (reason) => {
    const broker = await standInBroker(reason);
    const lines: string[] = [];
    const events = new EventStream(systemClock);
    const telemetry = startTelemetry({ url: broker.url, topicPrefix: 'lab/refused', progressHz: 1, loop: recordingLoop([]), events, log: capturingLogger(lines), reconnectMs: 100 });
    try {
      expect(await telemetry.ready(1500)).toBe(false);
      expect(telemetry.link()).toMatchObject({ connected: true, remoteEstop: false });
      expect(events.recent().filter((e) => e.kind === 'link').map((e) => [e.detail, e.source])).toEqual([
        [`MQTT connected to ${broker.url} but cannot subscribe to lab/refused/estop: remote e-stop unavailable`, 'mqtt'],
      ]);
      // mqtt.js reports an MQTT 5 refusal as the subscribe callback's error, named by its reason code
      expect(lines).toContain(`warn telemetry: cannot subscribe to lab/refused/estop: Subscribe error: ${reason === 0x80 ? 'Unspecified error' : 'Not authorized'}`);
    } finally {
      await telemetry.close();
      await broker.close();
    }
  });

  it('asks for the e-stop at QoS 1 (a retained e-stop is not lost on a poor link)', async () => {
    const broker = await standInBroker(0x01);
    const telemetry = startTelemetry({ url: broker.url, topicPrefix: 'lab/qos', progressHz: 1, loop: recordingLoop([]), events: new EventStream(systemClock), log: capturingLogger([]), reconnectMs: 100 });
    try {
      expect(await telemetry.ready(3000)).toBe(true);
      expect(broker.subscriptions).toEqual(['lab/qos/estop qos 1']);
    } finally {
      await telemetry.close();
      await broker.close();
    }
  });

  it('says nothing of a subscription granted once it is closing, and publishes no state after the goodbye', async () => {
    const broker = await standInBroker(0x01, { answer: 'at the goodbye' });
    const events = new EventStream(systemClock);
    const telemetry = startTelemetry({ url: broker.url, topicPrefix: 'lab/late', progressHz: 1, loop: recordingLoop([]), events, log: capturingLogger([]), reconnectMs: 100 });
    try {
      await waitFor(() => telemetry.link().connected, 'the connection');
    } finally {
      await telemetry.close();
      await broker.close();
    }
    expect(broker.subscriptions).toEqual(['lab/late/estop qos 1']); // asked, and answered at the goodbye
    expect(events.recent().filter((e) => e.kind === 'link')).toEqual([]);
    expect(broker.states.map((s) => (JSON.parse(s) as { online: boolean }).online)).toEqual([false]);
  });

  it('logs a refusal that comes in once it is closing, but tells no one and publishes no state after the goodbye', async () => {
    // The stand-in answers the SUBSCRIBE only when the offline state of close() arrives, so the
    // refusal reaches the subscribe callback while close() waits for that PUBACK.
    const broker = await standInBroker(0x80, { answer: 'at the goodbye' });
    const lines: string[] = [];
    const events = new EventStream(systemClock);
    const telemetry = startTelemetry({ url: broker.url, topicPrefix: 'lab/late', progressHz: 1, loop: recordingLoop([]), events, log: capturingLogger(lines), reconnectMs: 100 });
    try {
      await waitFor(() => telemetry.link().connected, 'the connection');
    } finally {
      await telemetry.close();
      await broker.close();
    }
    // the callback did run, after close() began ...
    expect(lines).toContain('warn telemetry: cannot subscribe to lab/late/estop: Subscribe error: Unspecified error');
    // ... and said nothing to the operator about a link it was shutting down, nor that it is online
    expect(events.recent().filter((e) => e.kind === 'link')).toEqual([]);
    expect(broker.states.map((s) => (JSON.parse(s) as { online: boolean }).online)).toEqual([false]);
  });

  it('closes, offline state sent, when the broker never answers the subscription', async () => {
    const broker = await standInBroker(0x80, { answer: 'never' });
    const telemetry = startTelemetry({ url: broker.url, topicPrefix: 'lab/mute', progressHz: 1, loop: recordingLoop([]), events: new EventStream(systemClock), log: capturingLogger([]), reconnectMs: 100 });
    try {
      await waitFor(() => telemetry.link().connected, 'the connection');
      const started = Date.now();
      await telemetry.close();
      expect(Date.now() - started).toBeLessThan(1500); // the goodbye was acknowledged: no wait for the timeout
      expect(broker.states.map((s) => (JSON.parse(s) as { state: string }).state)).toEqual(['offline']);
    } finally {
      await broker.close();
    }
  });
});
