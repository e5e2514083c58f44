/**
 * A vision-language GRM behind an OpenAI-compatible chat-completions server (the published
 * Robo-Dopamine GRM-3B served by vLLM). Each query is one request with eight images in the
 * reference order as base64 JPEG data URLs; the hop is read from the answer's last
 * `<score>...</score>` as the reference does (reward/hops.ts parseScore).
 *
 * Failures are never turned into a hop: requests time out (AbortController), failed requests and
 * unparsable answers are retried a bounded number of times, and then the call throws an
 * InputError naming the server (its URL) and what came back. Parse failures are counted in `metrics`
 * and logged with the start of the answer.
 */
import sharp from 'sharp';
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { log as rootLog } from '../common/log.js';
import type { ImageInput } from '../perception/images.js';
import { isRawImage, viewFor } from '../perception/images.js';
import { parseScore } from './hops.js';
import type { HopPrediction, HopQuery, RewardModel, TaskReferences } from './model.js';
import type { ImageSlot, PromptTemplate } from './prompt.js';
import { loadPromptTemplate, renderPrompt } from './prompt.js';

export interface OpenAiBackendOptions {
  /** Base URL, e.g. http://127.0.0.1:8000/v1 (the request goes to `${url}/chat/completions`). */
  url: string;
  model: string;
  /** Prompt template file; default the project's template. */
  promptTemplate?: string | undefined;
  timeoutMs?: number;
  /** Retries after a failed request or an unparsable answer. */
  retries?: number;
  /** Requests in flight at once. */
  concurrency?: number;
  temperature?: number;
  maxTokens?: number;
  /** Images are shrunk to fit this many pixels (reference maximum 76,800, about 320x240). */
  maxPixels?: number;
  jpegQuality?: number;
  /** First retry delay, ms; doubles each retry. */
  retryDelayMs?: number;
  logger?: Logger;
}

export interface OpenAiMetrics {
  requests: number;
  retries: number;
  /** Requests that timed out. */
  timeouts: number;
  /** HTTP errors and connection failures. */
  httpErrors: number;
  /** Answers without a readable `<score>` number. */
  parseFailures: number;
  /** Hops returned. */
  answered: number;
}

/** A counting semaphore: at most `limit` holders at once. */
class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/** Why one attempt failed, and whether another attempt may help. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class OpenAiRewardModel implements RewardModel {
  readonly name: string;
  readonly metrics: OpenAiMetrics = { requests: 0, retries: 0, timeouts: 0, httpErrors: 0, parseFailures: 0, answered: 0 };
  private readonly endpoint: string;
  private readonly template: PromptTemplate;
  private readonly limiter: Limiter;
  private readonly log: Logger;
  private readonly encoded = new WeakMap<object, Promise<string>>();
  private readonly options: Required<Omit<OpenAiBackendOptions, 'promptTemplate' | 'logger'>>;

  constructor(options: OpenAiBackendOptions) {
    this.options = {
      url: options.url,
      model: options.model,
      timeoutMs: options.timeoutMs ?? 30_000,
      retries: options.retries ?? 2,
      concurrency: options.concurrency ?? 4,
      temperature: options.temperature ?? 0.1,
      maxTokens: options.maxTokens ?? 512,
      maxPixels: options.maxPixels ?? 76_800,
      jpegQuality: options.jpegQuality ?? 85,
      retryDelayMs: options.retryDelayMs ?? 250,
    };
    this.endpoint = `${options.url.replace(/\/+$/, '')}/chat/completions`;
    this.name = `openai ${options.model} at ${options.url}`;
    this.template = loadPromptTemplate(options.promptTemplate);
    this.limiter = new Limiter(this.options.concurrency);
    this.log = (options.logger ?? rootLog).child('grm-openai');
  }

  async predict(task: TaskReferences, queries: readonly HopQuery[]): Promise<HopPrediction[]> {
    return Promise.all(queries.map((query) => this.limiter.run(() => this.predictOne(task, query))));
  }

  async close(): Promise<void> {
    if (this.metrics.parseFailures > 0) {
      this.log.warn(`${this.metrics.parseFailures} unparsable answers out of ${this.metrics.requests} requests`);
    }
  }

  /** The eight images of a query, by slot. Backward queries get the front goal image in all BEFORE slots. */
  private slotImages(task: TaskReferences, query: HopQuery): Record<ImageSlot, ImageInput> {
    const before = query.perspective === 'backward' ? { front: viewFor(task.goal, 'front') } : query.before;
    return {
      start: viewFor(task.start, 'front'),
      goal: viewFor(task.goal, 'front'),
      before_front: viewFor(before, 'front'),
      before_left_wrist: viewFor(before, 'left_wrist'),
      before_right_wrist: viewFor(before, 'right_wrist'),
      after_front: viewFor(query.after, 'front'),
      after_left_wrist: viewFor(query.after, 'left_wrist'),
      after_right_wrist: viewFor(query.after, 'right_wrist'),
    };
  }

  /** JPEG data URL of an image, shrunk to the pixel budget; cached per image object. */
  private dataUrl(image: ImageInput): Promise<string> {
    let url = this.encoded.get(image);
    if (!url) {
      url = this.encode(image);
      this.encoded.set(image, url);
    }
    return url;
  }

  private async encode(image: ImageInput): Promise<string> {
    const input = isRawImage(image) ? sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } }) : sharp(image);
    const meta = isRawImage(image) ? { width: image.width, height: image.height } : await input.metadata();
    const width = meta.width ?? 1;
    const height = meta.height ?? 1;
    const shrink = Math.min(1, Math.sqrt(this.options.maxPixels / (width * height)));
    const jpeg = await input
      .resize(Math.max(1, Math.floor(width * shrink)), Math.max(1, Math.floor(height * shrink)))
      .jpeg({ quality: this.options.jpegQuality })
      .toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  }

  private async requestBody(task: TaskReferences, query: HopQuery): Promise<string> {
    const images = this.slotImages(task, query);
    const content = await Promise.all(
      renderPrompt(this.template, task.instruction).map(async (part) =>
        part.type === 'text' ? { type: 'text', text: part.text } : { type: 'image_url', image_url: { url: await this.dataUrl(images[part.slot]) } },
      ),
    );
    return JSON.stringify({
      model: this.options.model,
      messages: [{ role: 'user', content }],
      temperature: this.options.temperature,
      max_tokens: this.options.maxTokens,
    });
  }

  private async predictOne(task: TaskReferences, query: HopQuery): Promise<HopPrediction> {
    const body = await this.requestBody(task, query);
    const attempts = this.options.retries + 1;
    const failures: string[] = [];
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) {
        this.metrics.retries++;
        await sleep(this.options.retryDelayMs * 2 ** (attempt - 2));
      }
      try {
        const hop = await this.attempt(body);
        this.metrics.answered++;
        return { hop };
      } catch (error) {
        if (!(error instanceof AttemptError)) throw error;
        failures.push(error.message);
        this.log.warn(`attempt ${attempt}/${attempts} failed: ${error.message}`);
        if (!error.retryable) break;
      }
    }
    // The server is the user's to fix (address, model, serving): one line naming it, exit 2 on the CLI.
    throw new InputError(this.options.url, `${failures[failures.length - 1]} (POST ${this.endpoint}, ${failures.length} attempt(s))`);
  }

  /** One request; returns the hop or throws an AttemptError. */
  private async attempt(body: string): Promise<number> {
    this.metrics.requests++;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs);
    let status: number;
    let text: string;
    try {
      const response = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: controller.signal,
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      if (controller.signal.aborted) {
        this.metrics.timeouts++;
        throw new AttemptError(`expected an answer within reward.openai.timeoutMs, got none: timed out after ${this.options.timeoutMs} ms`, true);
      }
      this.metrics.httpErrors++;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const code = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new AttemptError(`expected an OpenAI-compatible server, got ${code === 'ECONNREFUSED' ? 'connection refused' : 'no connection'} (${code})`, true);
    } finally {
      clearTimeout(timer);
    }
    if (status < 200 || status >= 300) {
      this.metrics.httpErrors++;
      // 5xx and 429 are worth another try; other 4xx mean the request itself is wrong.
      throw new AttemptError(`expected HTTP 200 with a chat completion, got HTTP ${status} ${JSON.stringify(text.slice(0, 200))}`, status >= 500 || status === 429);
    }
    let parsed: { choices?: Array<{ message?: { content?: unknown } }> } | null;
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      this.metrics.parseFailures++;
      throw new AttemptError(`expected a JSON chat completion, got an answer that is not JSON: ${JSON.stringify(text.slice(0, 120))}`, true);
    }
    const answer = parsed?.choices?.[0]?.message?.content;
    if (typeof answer !== 'string') {
      this.metrics.parseFailures++;
      throw new AttemptError(`expected a chat completion with choices[0].message.content, got ${JSON.stringify(text.slice(0, 120))}`, true);
    }
    const hop = parseScore(answer);
    if (hop === undefined) {
      this.metrics.parseFailures++;
      const tail = answer.slice(answer.lastIndexOf('<score>') + '<score>'.length);
      const inner = (tail.includes('</score>') ? tail.slice(0, tail.indexOf('</score>')) : tail).trim();
      throw new AttemptError(
        answer.includes('<score>')
          ? `expected a number in the answer's last <score>...</score>, got a non-numeric score ${JSON.stringify(inner.slice(0, 80))}`
          : `expected an answer ending in <score>NUMBER</score>, got an unparsable answer ${JSON.stringify(answer.slice(-160))}`,
        true,
      );
    }
    return hop;
  }
}
