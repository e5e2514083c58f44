/**
 * onnxruntime sessions: execution provider choice (CUDA when available, CPU otherwise, logged;
 * WebGPU when asked for) and typed helpers to feed and fetch float tensors.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { log as rootLog } from '../common/log.js';
import type { DType } from './graph.js';
import { Graph } from './graph.js';
import { emitModel } from './onnx.js';
import type { FloatArray } from './params.js';

export type ExecutionProviderSetting = 'auto' | 'cpu' | 'cuda' | 'webgpu';
export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

export interface RuntimeOptions {
  /** `engine.executionProvider`; auto by default. */
  executionProvider?: ExecutionProviderSetting;
  /** `engine.threads`: intra-op threads, 0 for onnxruntime's default. */
  threads?: number;
  logger?: Logger;
}

const chosen = new Map<ExecutionProviderSetting, Promise<ExecutionProvider>>();

/** A one-node model, used to find out whether a provider can create sessions here. */
function probeModel(): Uint8Array {
  const graph = new Graph({ dtype: 'float32' });
  return emitModel(graph, { outputs: { y: graph.input('x', [1]).neg() } }).bytes;
}

/** onnxruntime-node keeps the CUDA provider in a shared library next to its binding, installed on request. */
function cudaLibraryPresent(): boolean {
  const binding = dirname(createRequire(import.meta.url).resolve('onnxruntime-node'));
  const dir = join(binding, '..', 'bin', 'napi-v6', process.platform, process.arch);
  return existsSync(join(dir, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'));
}

async function probe(provider: ExecutionProvider): Promise<void> {
  if (provider === 'cuda' && !cudaLibraryPresent()) throw new Error('CUDA provider library not installed');
  const session = await ort.InferenceSession.create(probeModel(), { executionProviders: [provider], logSeverityLevel: 4 });
  await session.release();
}

/** Why a provider could not be used: the message's first line, without onnxruntime's source location. */
function reason(error: unknown): string {
  const first = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
  // onnxruntime's failed checks read "<source>:<line> <function> <condition> was false. <message>".
  const at = first.lastIndexOf(' was false. ');
  return at >= 0 ? first.slice(at + ' was false. '.length) : first;
}

/**
 * Resolve the setting to a provider once per process, logging the choice. `auto` tries CUDA, then
 * the CPU. WebGPU (bundled with onnxruntime-node; on Linux it reaches the GPU through the GPU's
 * Vulkan driver, so it needs no CUDA install) is used only when named: whether it beats the CPU
 * on this project's small graphs has not been measured on a GPU yet (bench:providers measures it).
 */
export function resolveExecutionProvider(setting: ExecutionProviderSetting = 'auto', logger: Logger = rootLog): Promise<ExecutionProvider> {
  let result = chosen.get(setting);
  if (!result) {
    result = (async (): Promise<ExecutionProvider> => {
      const log = logger.child('engine');
      if (setting === 'cpu') {
        log.info('execution provider: cpu (engine.executionProvider = cpu)');
        return 'cpu';
      }
      if (setting === 'webgpu') {
        try {
          await probe('webgpu');
        } catch (error) {
          throw new InputError('engine.executionProvider', `expected a WebGPU adapter (a GPU with a Vulkan driver on Linux), got none (${reason(error)}); see docs/gpu.md`);
        }
        log.info('execution provider: webgpu (engine.executionProvider = webgpu)');
        return 'webgpu';
      }
      try {
        await probe('cuda');
        log.info(`execution provider: cuda (engine.executionProvider = ${setting})`);
        return 'cuda';
      } catch (error) {
        if (setting === 'cuda') {
          throw new InputError('engine.executionProvider', `expected an available CUDA execution provider, got none (${reason(error)}); see docs/gpu.md`);
        }
        log.info(`execution provider: cpu (CUDA not available: ${reason(error)})`);
        return 'cpu';
      }
    })();
    chosen.set(setting, result);
  }
  return result;
}

export async function createSession(bytes: Uint8Array, options: RuntimeOptions = {}): Promise<ort.InferenceSession> {
  const provider = await resolveExecutionProvider(options.executionProvider ?? 'auto', options.logger);
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
  };
  if (options.threads && options.threads > 0) sessionOptions.intraOpNumThreads = options.threads;
  return ort.InferenceSession.create(bytes, sessionOptions);
}

export function toOrt(dtype: DType, data: FloatArray, shape: readonly number[]): ort.Tensor {
  return new ort.Tensor(dtype, data, shape);
}

export { ort };
