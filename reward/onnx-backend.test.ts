import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../common/log.js';
import { exportOnnx } from '../engine/index.js';
import type { RawImage } from '../perception/images.js';
import { encodeInstruction, META_HOP_BINS, readContract, withMetadata } from './grm-contract.js';
import { createGrmTinyStore, exportGrmTiny, loadGrmTiny } from './grm-tiny/io.js';
import { contractInputs, grmFromInputs, type GrmTinyConfig } from './grm-tiny/model.js';
import { fusedStepQueries, predictFusedStep, type TaskReferences } from './model.js';
import { OnnxRewardModel } from './onnx-backend.js';

const quiet = createLogger('test', 'silent');
const config: GrmTinyConfig = { width: 16, height: 12, patch: 4, dim: 8, depth: 1, tokenMlp: true, heads: 2, textDim: 16, bins: 5, hidden: 16 };
const dir = mkdtempSync(join(tmpdir(), 'grm-onnx-'));

function noise(seed: number, width = 40, height = 30): RawImage {
  const rgb = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < rgb.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    rgb[i] = s >>> 24;
  }
  return { width, height, rgb };
}

function write(name: string, bytes: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

const task: TaskReferences = { instruction: 'open the drawer', start: { front: noise(1) }, goal: { front: noise(2), left_wrist: noise(3) } };

describe('ONNX GRM backend', () => {
  const store = createGrmTinyStore(config, 7);
  const file = write('tiny.onnx', exportGrmTiny(store, config, 3));

  it('answers a query the same whatever was scored before: the state pool never evicts a state in use', async () => {
    // Each call reuses START and GOAL (pool hits) while filling new states round robin; with a
    // small pool, some call's fills reach the slot START or GOAL sits in.
    const used = await OnnxRewardModel.load(file, { logger: quiet, executionProvider: 'cpu', stateSlots: 4 });
    try {
      for (let call = 0; call < 8; call++) {
        const query = { before: { front: noise(100 + 2 * call) }, after: { front: noise(101 + 2 * call) } };
        const [inSession] = await used.predict(task, [query]);
        // A model that scored nothing else before: START and GOAL freshly preprocessed.
        const alone = await OnnxRewardModel.load(file, { logger: quiet, executionProvider: 'cpu', stateSlots: 4 });
        const [reference] = await alone.predict({ ...task, start: { ...task.start }, goal: { ...task.goal } }, [query]);
        await alone.close();
        expect(inSession!.hop, `call ${call}`).toBeCloseTo(reference!.hop, 6);
      }
    } finally {
      await used.close();
    }
  });

  it('loads a contract model and predicts hops with bins and confidence, padding the last batch', async () => {
    const model = await OnnxRewardModel.load(file, { logger: quiet, executionProvider: 'cpu' });
    expect(model.contract).toMatchObject({ batch: 3, width: 16, height: 12, textDim: 16 });
    expect(model.hopBins).toEqual([-1, -0.5, 0, 0.5, 1]);
    const states = [noise(10), noise(11), noise(12), noise(13), noise(14)].map((front) => ({ front }));
    const queries = states.map((after, i) => ({ before: states[(i + 1) % 5]!, after }));
    const predictions = await model.predict(task, queries);
    expect(predictions).toHaveLength(5);
    for (const p of predictions) {
      const probs = Array.from(p.bins!);
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(p.hop).toBeCloseTo(probs.reduce((a, q, i) => a + q * model.hopBins[i]!, 0), 5);
      expect(p.confidence).toBeGreaterThanOrEqual(0);
      expect(p.confidence).toBeLessThanOrEqual(1);
    }
    // the same query alone gives the same answer as inside a padded batch
    const [alone] = await model.predict(task, [queries[4]!]);
    expect(alone!.hop).toBeCloseTo(predictions[4]!.hop, 5);
    // different images give different hops: the images reach the output
    expect(new Set(predictions.map((p) => p.hop.toFixed(6))).size).toBeGreaterThan(1);
    const step = await predictFusedStep(model, task, states[0]!, states[1]!);
    expect(step.predictions).toHaveLength(3);
    expect(model.lastViewWeights[0]!.length).toBe(6);
    await model.close();
  });

  it('matches the engine graph it was exported from, fed the contract encoding by hand', async () => {
    const model = await OnnxRewardModel.load(file, { logger: quiet, executionProvider: 'cpu' });
    // Images already at the model size, so preprocessing is only the normalisation.
    const small: TaskReferences = { instruction: task.instruction, start: { front: noise(31, 16, 12) }, goal: { front: noise(32, 16, 12) } };
    const before = { front: noise(21, 16, 12), left_wrist: noise(22, 16, 12), right_wrist: noise(23, 16, 12) };
    const after = { front: noise(24, 16, 12) };
    const [prediction] = await model.predict(small, [{ before, after }]);
    const { Predictor } = await import('../engine/index.js');
    const predictor = await Predictor.create({ store, executionProvider: 'cpu', build: (g) => ({ hop: grmFromInputs(contractInputs(g, 1, config), config).hop }) });
    const chw = (...images: RawImage[]): Float32Array => {
      const plane = 16 * 12;
      const out = new Float32Array(images.length * 3 * plane);
      images.forEach((image, k) => {
        for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[k * 3 * plane + c * plane + p] = image.rgb[p * 3 + c]! / 127.5 - 1;
      });
      return out;
    };
    const result = await predictor.run({
      start: chw(small.start.front as RawImage),
      goal: chw(small.goal.front as RawImage),
      before: chw(before.front, before.left_wrist, before.right_wrist),
      after: chw(after.front, after.front, after.front),
      instruction: encodeInstruction(task.instruction, 16),
    });
    expect(prediction!.hop).toBeCloseTo(result.hop![0]!, 4);
    await predictor.dispose();
    await model.close();
  });

  it('round-trips GRM-tiny weights through the .onnx file', () => {
    const loaded = loadGrmTiny(file);
    expect(loaded.config).toEqual(config);
    for (const name of store.names()) expect(Array.from(loaded.store.get(name).data)).toEqual(Array.from(store.get(name).data));
  });

  it('names contract mismatches when loading', async () => {
    const load = (f: string): Promise<unknown> => OnnxRewardModel.load(f, { logger: quiet, executionProvider: 'cpu' });
    await expect(load(join(dir, 'nope.onnx'))).rejects.toThrow(/nope\.onnx: expected a readable \.onnx model, got ENOENT/);
    await expect(load(write('junk.onnx', new Uint8Array([1, 2, 3, 4, 5, 255, 255])))).rejects.toThrow(/junk\.onnx: expected an ONNX model/);
    // a valid ONNX file without the contract's metadata
    const plain = exportOnnx(store, (g) => ({ hop: grmFromInputs(contractInputs(g, 2, config), config).hop }));
    await expect(load(write('plain.onnx', plain))).rejects.toThrow(/plain\.onnx: does not follow the GRM contract.*metadata dopamine\.grm\.contract: expected "1", got none/);
    // contract metadata but a missing output
    const noLogits = withMetadata(plain, { 'dopamine.grm.contract': '1', [META_HOP_BINS]: '[-1,-0.5,0,0.5,1]' });
    await expect(load(write('nologits.onnx', noLogits))).rejects.toThrow(/outputs: expected hop_logits, hop .* got hop$/);
    // wrong number of hop bins in the metadata
    const badBins = withMetadata(exportGrmTiny(store, config, 2), { [META_HOP_BINS]: '[0, 1]' });
    await expect(load(write('badbins.onnx', badBins))).rejects.toThrow(/metadata dopamine\.grm\.hop_bins: expected a JSON list of 5 ascending numbers/);
    // an input with the wrong name
    const renamed = exportOnnx(store, (g) => {
      const inputs = contractInputs(g, 1, config);
      const out = grmFromInputs({ ...inputs, instruction: inputs.instruction }, config);
      return { hop_logits: out.hop_logits, hop: out.hop };
    });
    const text = Buffer.from(renamed).toString('latin1').replaceAll('instruction', 'instructiox');
    const broken = withMetadata(Buffer.from(text, 'latin1'), { 'dopamine.grm.contract': '1', [META_HOP_BINS]: '[-1,-0.5,0,0.5,1]' });
    await expect(load(write('renamed.onnx', broken))).rejects.toThrow(/inputs: expected start, goal, before, after, instruction, got .*instructiox/);
  });

  it('reads the contract of the exported model', () => {
    const contract = readContract(exportGrmTiny(store, config, 4), 'x.onnx');
    expect(contract).toMatchObject({ batch: 4, width: 16, height: 12, textDim: 16, hasViewWeights: true });
  });

  it('fused-step queries are incremental, forward, backward', () => {
    const prev = { front: noise(1) };
    const cur = { front: noise(2) };
    const q = fusedStepQueries(task, prev, cur);
    expect(q.map((x) => x.perspective)).toEqual(['incremental', 'forward', 'backward']);
    expect(q[1]!.before).toBe(task.start);
    expect(q[2]!.before).toBe(task.goal);
  });
});

describe('instruction encoding', () => {
  it('is a unit vector of hashed word n-grams, equal for equal word sequences', () => {
    const a = encodeInstruction('Open the drawer!', 64);
    const b = encodeInstruction('open   THE drawer', 64);
    const c = encodeInstruction('close the drawer', 64);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(Array.from(encodeInstruction('  ', 8))).toEqual(new Array(8).fill(0));
  });
});
