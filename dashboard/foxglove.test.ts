import foxgloveProtocol, { type Channel, type MessageData } from '@foxglove/ws-protocol';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServing, waitFor, type TestServing } from './testing.js';

const { FoxgloveClient } = foxgloveProtocol;

describe('serve for Foxglove (dashboard.foxglovePort)', () => {
  let serving: TestServing;
  let client: InstanceType<typeof FoxgloveClient>;
  const channels: Channel[] = [];
  const received = new Map<string, MessageData[]>();

  beforeAll(async () => {
    serving = await startTestServing({ robot: { controlHz: 20, episodeSeconds: 1 }, dashboard: { foxglovePort: 0, cameraFps: 5 } }, { autoStart: true });
    const ws = new WebSocket(serving.foxglove!.url, [FoxgloveClient.SUPPORTED_SUBPROTOCOL]);
    client = new FoxgloveClient({ ws: ws as unknown as ConstructorParameters<typeof FoxgloveClient>[0]['ws'] });
    const topicOf = new Map<number, string>();
    client.on('advertise', (advertised) => {
      for (const channel of advertised) {
        channels.push(channel);
        topicOf.set(client.subscribe(channel.id), channel.topic);
      }
    });
    client.on('message', (message) => {
      const topic = topicOf.get(message.subscriptionId)!;
      received.set(topic, [...(received.get(topic) ?? []), message]);
    });
  });
  afterAll(async () => {
    client?.close();
    await serving?.shutdown('tests done');
  });

  it('advertises the camera views, arm state, progress, status, episodes and safety events', async () => {
    await waitFor(() => channels.length > 0, 'advertised channels');
    const topics = channels.map((c) => c.topic).sort();
    expect(topics).toEqual(['/cam_high/image', '/cam_left_wrist/image', '/cam_right_wrist/image', '/dopamine/episode', '/dopamine/progress', '/dopamine/safety', '/dopamine/status', '/ee_pose', '/joint_states'].sort());
    expect(channels.find((c) => c.topic === '/cam_high/image')).toMatchObject({ encoding: 'json', schemaName: 'foxglove.CompressedImage' });
    expect(channels.find((c) => c.topic === '/ee_pose')).toMatchObject({ schemaName: 'foxglove.PoseInFrame' });
  });

  it('streams at least 10 JPEG images of a view within 10 s, and the state and progress as the arm moves', async () => {
    const started = Date.now();
    await waitFor(() => (received.get('/cam_high/image') ?? []).length >= 10, '10 images of the front view', 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    const images = received.get('/cam_high/image')!;
    const image = JSON.parse(new TextDecoder().decode(images[0]!.data)) as { format: string; data: string; frame_id: string };
    expect(image.format).toBe('jpeg');
    const meta = await sharp(Buffer.from(image.data, 'base64')).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', serving.config.cameras.width, serving.config.cameras.height]);
    for (const topic of ['/joint_states', '/ee_pose', '/dopamine/progress', '/dopamine/status']) {
      await waitFor(() => (received.get(topic) ?? []).length > 0, `a message on ${topic}`, 10_000);
    }
    const pose = JSON.parse(new TextDecoder().decode(received.get('/ee_pose')![0]!.data)) as { pose: { position: { x: number } } };
    expect(Number.isFinite(pose.pose.position.x)).toBe(true);
  });

  it('is read-only: a client message changes nothing in the run', async () => {
    const before = serving.loop.snapshot();
    // A client publish (not advertised as a capability) and a bogus request: the server answers at most with a status.
    client.advertise({ topic: '/estop', encoding: 'json', schemaName: 'std_msgs/Empty' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = serving.loop.snapshot();
    expect(after.estopped).toBe(before.estopped);
    expect(after.state).toBe('running');
  });
});
