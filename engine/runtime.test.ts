import { describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import type { Graph } from './graph.js';
import { mlp } from './layers.js';
import { mse } from './losses.js';
import { ParamStore } from './params.js';
import type { ExecutionProvider } from './runtime.js';
import { resolveExecutionProvider } from './runtime.js';
import { Trainer } from './trainer.js';

const quiet = createLogger('dopamine', 'silent');

/** Five Adam steps of a small MLP from the same weights: the losses, to compare providers. */
async function losses(provider: ExecutionProvider): Promise<number[]> {
  const trainer = await Trainer.create({
    store: new ParamStore({ seed: 5 }),
    executionProvider: provider,
    optimizer: { lr: 1e-2 },
    build: (g: Graph) => ({ loss: mse(mlp(g.input('x', [8, 3]), 'mlp', [16, 2]), g.input('y', [8, 2])) }),
  });
  const x = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i));
  const y = Float32Array.from({ length: 16 }, (_, i) => Math.cos(i));
  const out: number[] = [];
  for (let i = 0; i < 5; i++) out.push((await trainer.run({ x, y })).loss);
  await trainer.dispose();
  return out;
}

describe('execution provider choice (engine.executionProvider)', () => {
  it('cpu is always available', async () => {
    expect(await resolveExecutionProvider('cpu', quiet)).toBe('cpu');
  });

  it('auto falls back to the CPU when CUDA is not there, and cuda named without it is an input error', async () => {
    const auto = await resolveExecutionProvider('auto', quiet);
    if (auto === 'cuda') {
      expect(await resolveExecutionProvider('cuda', quiet)).toBe('cuda');
      return;
    }
    expect(auto).toBe('cpu');
    const error = await resolveExecutionProvider('cuda', quiet).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).input).toBe('engine.executionProvider');
    expect((error as Error).message).toMatch(/expected an available CUDA execution provider/);
  });

  it('webgpu: without an adapter an input error that says what is missing; with one, the numbers of the CPU', async () => {
    const result = await resolveExecutionProvider('webgpu', quiet).catch((e: unknown) => e);
    if (result === 'webgpu') {
      // A machine with a GPU (not CI): the same training steps agree with the CPU's.
      const [gpu, cpu] = [await losses('webgpu'), await losses('cpu')];
      gpu.forEach((loss, i) => expect(loss).toBeCloseTo(cpu[i]!, 4));
      return;
    }
    expect(result).toBeInstanceOf(InputError);
    expect((result as InputError).input).toBe('engine.executionProvider');
    expect((result as Error).message).toMatch(/expected a WebGPU adapter .*got none \(.+\)/);
  });
});
