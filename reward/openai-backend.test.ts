import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import type { RawImage } from '../perception/images.js';
import { fusedStepQueries, type TaskReferences } from './model.js';
import { OpenAiRewardModel } from './openai-backend.js';
import { parsePromptTemplate, DEFAULT_PROMPT_FILE, loadPromptTemplate } from './prompt.js';

interface ChatPart {
  type: string;
  text?: string;
  image_url?: { url: string };
}
interface ChatRequest {
  model: string;
  temperature: number;
  messages: Array<{ role: string; content: ChatPart[] }>;
}

/** A solid grey image whose level tags it (grey survives JPEG chroma subsampling), so the server can tell which image came where. */
function tagged(red: number, width = 64, height = 48): RawImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i += 3) {
    rgb[i] = red;
    rgb[i + 1] = red;
    rgb[i + 2] = red;
  }
  return { width, height, rgb };
}

const quiet = createLogger('test', 'silent');
let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Starts a chat-completions server; `answer` returns [status, body, delay ms] per request. */
async function serve(answer: (request: ChatRequest, count: number) => [number, unknown, number?]): Promise<{ url: string; requests: ChatRequest[] }> {
  const requests: ChatRequest[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url !== '/v1/chat/completions' || req.method !== 'POST') {
        res.writeHead(404).end('not found');
        return;
      }
      const request = JSON.parse(body) as ChatRequest;
      requests.push(request);
      const [status, payload, delay] = answer(request, requests.length);
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json' }).end(typeof payload === 'string' ? payload : JSON.stringify(payload));
      }, delay ?? 0);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server!.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1`, requests };
}

const completion = (text: string): unknown => ({ choices: [{ index: 0, message: { role: 'assistant', content: text } }] });

const task: TaskReferences = {
  instruction: 'put the red cube in the bowl',
  start: { front: tagged(10), left_wrist: tagged(11), right_wrist: tagged(12) },
  goal: { front: tagged(20), left_wrist: tagged(21), right_wrist: tagged(22) },
};
const previous = { front: tagged(30), left_wrist: tagged(31), right_wrist: tagged(32) };
const current = { front: tagged(40), left_wrist: tagged(41), right_wrist: tagged(42) };

async function redOf(url: string): Promise<number> {
  const sharp = (await import('sharp')).default;
  const jpeg = Buffer.from(url.replace(/^data:image\/jpeg;base64,/, ''), 'base64');
  const { data } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  return data[0]!;
}

describe('OpenAI-compatible GRM backend', () => {
  it('sends 8 images in the reference order and reads the last score tag', async () => {
    const { url, requests } = await serve((request) => {
      const text = request.messages[0]!.content.filter((p) => p.type === 'text').map((p) => p.text).join('');
      expect(text).toContain('put the red cube in the bowl');
      return [200, completion('thinking <score>+10%</score> no wait <score>+35%</score>')];
    });
    const model = new OpenAiRewardModel({ url, model: 'grm', logger: quiet });
    const predictions = await model.predict(task, fusedStepQueries(task, previous, current));
    expect(predictions.map((p) => p.hop)).toEqual([0.35, 0.35, 0.35]);
    expect(requests).toHaveLength(3);
    expect(requests[0]!.model).toBe('grm');
    expect(requests[0]!.temperature).toBeCloseTo(0.1);
    const reds = await Promise.all(
      requests.map((r) => Promise.all(r.messages[0]!.content.filter((p) => p.type === 'image_url').map((p) => redOf(p.image_url!.url)))),
    );
    // Requests run concurrently: order them by the BEFORE front image (start 10 < goal 20 < previous 30).
    reds.sort((a, b) => a[2]! - b[2]!);
    const near = (values: number[], expected: number[]): void => values.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(3));
    // forward: start -> current
    near(reds[0]!, [10, 20, 10, 11, 12, 40, 41, 42]);
    // backward: the front goal image fills all three BEFORE slots
    near(reds[1]!, [10, 20, 20, 20, 20, 40, 41, 42]);
    // incremental: previous -> current
    near(reds[2]!, [10, 20, 30, 31, 32, 40, 41, 42]);
    expect(model.metrics.answered).toBe(3);
    expect(model.metrics.parseFailures).toBe(0);
  });

  it('repeats the front view when a state has no wrist cameras', async () => {
    const { url, requests } = await serve(() => [200, completion('<score>-20%</score>')]);
    const model = new OpenAiRewardModel({ url, model: 'grm', logger: quiet });
    const [prediction] = await model.predict(task, [{ before: { front: tagged(50) }, after: { front: tagged(60) } }]);
    expect(prediction!.hop).toBeCloseTo(-0.2);
    const reds = await Promise.all(requests[0]!.messages[0]!.content.filter((p) => p.type === 'image_url').map((p) => redOf(p.image_url!.url)));
    expect(reds.slice(2).map((r) => Math.round(r / 10) * 10)).toEqual([50, 50, 50, 60, 60, 60]);
  });

  it('clips out-of-range scores like the reference', async () => {
    const { url } = await serve(() => [200, completion('<score>+250%</score>')]);
    const model = new OpenAiRewardModel({ url, model: 'grm', logger: quiet });
    const [prediction] = await model.predict(task, [{ before: previous, after: current }]);
    expect(prediction!.hop).toBe(1);
  });

  it('counts unparsable answers, retries them, and fails without inventing a hop', async () => {
    const { url, requests } = await serve(() => [200, completion('I think it moved a bit.')]);
    const model = new OpenAiRewardModel({ url, model: 'grm', retries: 2, retryDelayMs: 1, logger: quiet });
    await expect(model.predict(task, [{ before: previous, after: current }])).rejects.toThrow(/unparsable answer.*moved a bit/);
    expect(requests).toHaveLength(3);
    expect(model.metrics.parseFailures).toBe(3);
    expect(model.metrics.answered).toBe(0);
  });

  it('recovers when a retry gives a parsable answer', async () => {
    const { url } = await serve((_r, count) => [200, completion(count === 1 ? '<score>about half</score>' : '<score>+50%</score>')]);
    const model = new OpenAiRewardModel({ url, model: 'grm', retries: 1, retryDelayMs: 1, logger: quiet });
    const [prediction] = await model.predict(task, [{ before: previous, after: current }]);
    expect(prediction!.hop).toBe(0.5);
    expect(model.metrics.parseFailures).toBe(1);
    expect(model.metrics.retries).toBe(1);
  });

  it('retries server errors (500) and succeeds', async () => {
    const { url, requests } = await serve((_r, count) => (count <= 2 ? [500, 'overloaded'] : [200, completion('<score>+5%</score>')]));
    const model = new OpenAiRewardModel({ url, model: 'grm', retries: 2, retryDelayMs: 1, logger: quiet });
    const [prediction] = await model.predict(task, [{ before: previous, after: current }]);
    expect(prediction!.hop).toBeCloseTo(0.05);
    expect(requests).toHaveLength(3);
    expect(model.metrics.httpErrors).toBe(2);
  });

  it('does not retry a 400 and names the status', async () => {
    const { url, requests } = await serve(() => [400, '{"error":"too many images"}']);
    const model = new OpenAiRewardModel({ url, model: 'grm', retries: 3, retryDelayMs: 1, logger: quiet });
    await expect(model.predict(task, [{ before: previous, after: current }])).rejects.toThrow(/HTTP 400.*too many images/);
    expect(requests).toHaveLength(1);
  });

  it('times out slow answers', async () => {
    const { url } = await serve(() => [200, completion('<score>+5%</score>'), 400]);
    const model = new OpenAiRewardModel({ url, model: 'grm', timeoutMs: 100, retries: 1, retryDelayMs: 1, logger: quiet });
    await expect(model.predict(task, [{ before: previous, after: current }])).rejects.toThrow(/timed out after 100 ms/);
    expect(model.metrics.timeouts).toBe(2);
  });

  it('names a dead server, after its retries, as an input error (exit 2 on the command line)', async () => {
    const { url } = await serve(() => [200, completion('<score>+5%</score>')]);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const model = new OpenAiRewardModel({ url, model: 'grm', retries: 1, retryDelayMs: 1, logger: quiet });
    const error = await model.predict(task, [{ before: previous, after: current }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).input).toBe(url);
    expect((error as Error).message).toBe(`${url}: expected an OpenAI-compatible server, got connection refused (ECONNREFUSED) (POST ${url}/chat/completions, 2 attempt(s))`);
    expect(model.metrics.httpErrors).toBe(2);
  });

  it.each([
    ['a 404 (not retried)', [404, 'no such route'], 1, 'expected HTTP 200 with a chat completion, got HTTP 404 "no such route"'],
    ['an answer that is not JSON', [200, '{"choices": [oops'], 2, 'expected a JSON chat completion, got an answer that is not JSON: "{\\"choices\\": [oops"'],
    ['a non-numeric score', [200, completion('moved a bit <score>about half</score>')], 2, 'expected a number in the answer\'s last <score>...</score>, got a non-numeric score "about half"'],
  ] as const)('names the server and what came back for %s, after its retries', async (_what, answer, attempts, reason) => {
    const { url, requests } = await serve(() => [answer[0], answer[1]]);
    const model = new OpenAiRewardModel({ url, model: 'grm', retries: 1, retryDelayMs: 1, logger: quiet });
    const error = await model.predict(task, [{ before: previous, after: current }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(`${url}: ${reason} (POST ${url}/chat/completions, ${attempts} attempt(s))`);
    expect(requests).toHaveLength(attempts);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const { url } = await serve(() => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => inFlight--, 40);
      return [200, completion('<score>+1%</score>'), 40];
    });
    const model = new OpenAiRewardModel({ url, model: 'grm', concurrency: 2, logger: quiet });
    const queries = Array.from({ length: 6 }, () => ({ before: previous, after: current }));
    await model.predict(task, queries);
    expect(most).toBe(2);
  });
});

describe('prompt templates', () => {
  it('the default template has the 8 slots in order and the instruction', () => {
    const template = loadPromptTemplate(DEFAULT_PROMPT_FILE);
    expect(template.texts).toHaveLength(9);
  });

  it('refuses a template with slots out of order or missing, naming the file', () => {
    expect(() => parsePromptTemplate('{instruction} <image:goal> <image:start>', 'p.txt')).toThrow(/p\.txt: expected the 8 image slots/);
    expect(() => parsePromptTemplate('no placeholder', 'p.txt')).toThrow(/p\.txt: expected the placeholder \{instruction\}/);
  });

  it('reads a template from the configured file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prompt-'));
    const file = join(dir, 'mine.txt');
    writeFileSync(file, 'DO: {instruction} <image:start><image:goal><image:before_front><image:before_left_wrist><image:before_right_wrist><image:after_front><image:after_left_wrist><image:after_right_wrist> END');
    const { url, requests } = await serve(() => [200, completion('<score>0%</score>')]);
    const model = new OpenAiRewardModel({ url, model: 'grm', promptTemplate: file, logger: quiet });
    const [prediction] = await model.predict(task, [{ before: previous, after: current }]);
    expect(prediction!.hop).toBe(0);
    const texts = requests[0]!.messages[0]!.content.filter((p) => p.type === 'text').map((p) => p.text);
    expect(texts).toEqual(['DO: put the red cube in the bowl ', ' END']);
    expect(() => new OpenAiRewardModel({ url, model: 'grm', promptTemplate: join(dir, 'missing.txt') })).toThrow(/missing\.txt: expected a readable prompt template/);
  });
});
