/**
 * The checkpoint file on its own, without onnxruntime: the layout the module's header describes,
 * both dtypes, and every refusal (each one leaving the model as it was). A stand-in trainer holds
 * Adam moments; the module reads nothing else of a trainer. trainer.test.ts checks the round trip
 * with a real one.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { DType } from './graph.js';
import { ParamStore, type FloatArray } from './params.js';
import type { Trainer } from './trainer.js';

const dir = mkdtempSync(join(tmpdir(), 'checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const path = (): string => join(dir, `c${files++}.ckpt`);

/** The part of a Trainer a checkpoint reads and writes: its name, step and Adam moments (in the model's dtype). */
class MomentsTrainer {
  step = 0;
  readonly moments: { name: string; shape: number[]; m: FloatArray; v: FloatArray }[];
  constructor(
    readonly name: string,
    shapes: Record<string, number[]>,
    fill = 0,
    dtype: DType = 'float32',
  ) {
    const array = (values: number[]): FloatArray => (dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values));
    this.moments = Object.entries(shapes).map(([name, shape], k) => {
      const index = [...Array(shape.reduce((n, d) => n * d, 1)).keys()];
      return { name, shape, m: array(index.map((i) => fill + k + i / 8)), v: array(index.map((i) => fill * 2 + i / 16)) };
    });
  }
  optimizerState(): ReturnType<Trainer['optimizerState']> {
    return { step: this.step, moments: this.moments };
  }
  setOptimizerState(step: number, moments: Map<string, { m: ArrayLike<number>; v: ArrayLike<number> }>): void {
    for (const slot of this.moments) {
      slot.m.set(moments.get(slot.name)!.m);
      slot.v.set(moments.get(slot.name)!.v);
    }
    this.step = step;
  }
}
const asTrainer = (t: MomentsTrainer): Trainer => t as unknown as Trainer;

function model(seed: number, dtype: DType = 'float32', names: Record<string, number[]> = { 'a.weight': [3, 5], 'a.bias': [5], 'longer.name.w': [2, 2, 2] }): ParamStore {
  const store = new ParamStore({ seed, dtype });
  for (const [name, shape] of Object.entries(names)) store.ensure(name, shape, { kind: 'uniform', limit: 1 });
  return store;
}
const values = (store: ParamStore): Record<string, number[]> => Object.fromEntries(store.names().map((n) => [n, Array.from(store.get(n).data)]));

/** A file in the documented layout, from a header object and data bytes, with a valid checksum. */
function layout(header: unknown, data: Uint8Array = new Uint8Array(0), headerText = JSON.stringify(header)): Buffer {
  const headerBytes = Buffer.from(headerText, 'utf8');
  const padding = (8 - ((8 + 32 + 4 + headerBytes.length) % 8)) % 8;
  const body = Buffer.concat([Buffer.alloc(4), headerBytes, Buffer.alloc(padding), data]);
  body.writeUInt32LE(headerBytes.length, 0);
  return Buffer.concat([Buffer.from('DOPCKPT1', 'latin1'), createHash('sha256').update(body).digest(), body]);
}

function refusal(load: () => void): InputError {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('expected the load to be refused');
}

describe('checkpoint file', () => {
  it.each(['float32', 'float64'] as const)('round-trips %s parameters and each trainer\'s step and moments exactly', (dtype) => {
    const saved = model(1, dtype);
    const trainers = [new MomentsTrainer('actor', { 'a.weight': [3, 5] }, 0.5, dtype), new MomentsTrainer('critic', { 'a.bias': [5], 'longer.name.w': [2, 2, 2] }, 2, dtype)];
    trainers[0]!.step = 17;
    trainers[1]!.step = 4;
    const file = path();
    saveCheckpoint(file, saved, trainers.map(asTrainer));

    const loaded = model(2, dtype);
    const into = [new MomentsTrainer('actor', { 'a.weight': [3, 5] }, 9, dtype), new MomentsTrainer('critic', { 'a.bias': [5], 'longer.name.w': [2, 2, 2] }, 9, dtype)];
    expect(values(loaded)).not.toEqual(values(saved));
    loadCheckpoint(file, loaded, into.map(asTrainer));
    expect(values(loaded)).toEqual(values(saved));
    expect(into.map((t) => t.step)).toEqual([17, 4]);
    into.forEach((t, k) => t.moments.forEach((slot, i) => {
      expect(Array.from(slot.m)).toEqual(Array.from(trainers[k]!.moments[i]!.m));
      expect(Array.from(slot.v)).toEqual(Array.from(trainers[k]!.moments[i]!.v));
    }));
  });

  it('is laid out as its header says: magic, SHA-256 of the rest, header length, header, padding to 8, data', () => {
    const cases: Record<string, number[]>[] = [{ w: [2] }, { ww: [2] }, { www: [3] }, { 'a.b.c.d': [1, 3] }];
    for (const names of cases) {
      const store = model(3, 'float64', names);
      const file = path();
      saveCheckpoint(file, store);
      const bytes = readFileSync(file);
      expect(bytes.subarray(0, 8).toString('latin1')).toBe('DOPCKPT1');
      const body = bytes.subarray(40);
      expect(bytes.subarray(8, 40)).toEqual(createHash('sha256').update(body).digest());
      const headerLength = body.readUInt32LE(0);
      const header = JSON.parse(body.subarray(4, 4 + headerLength).toString('utf8')) as unknown;
      const [name, shape] = Object.entries(names)[0]!;
      expect(header).toEqual({ version: 1, dtype: 'float64', trainers: {}, tensors: [{ name: `param/${name}`, shape }] });
      const dataStart = 40 + 4 + headerLength;
      const aligned = Math.ceil(dataStart / 8) * 8;
      expect(bytes.subarray(dataStart, aligned)).toEqual(Buffer.alloc(aligned - dataStart));
      expect(bytes.length).toBe(aligned + 8 * store.get(name).data.length);
      expect(Array.from(new Float64Array(new Uint8Array(bytes.subarray(aligned)).buffer))).toEqual(Array.from(store.get(name).data));
    }
  });

  it('creates the parameters the model does not have yet', () => {
    const file = path();
    saveCheckpoint(file, model(4));
    const empty = new ParamStore({ seed: 5 });
    loadCheckpoint(file, empty);
    expect(values(empty)).toEqual(values(model(4)));
    expect(empty.get('a.weight').shape).toEqual([3, 5]);
  });
});

describe('checkpoint file: refusals change nothing', () => {
  const good = path();
  saveCheckpoint(good, model(6), [asTrainer(new MomentsTrainer('actor', { 'a.weight': [3, 5] }, 1))]);
  const bytes = readFileSync(good);

  const refuses = (file: Buffer | string, message: string, store = model(7), trainers: MomentsTrainer[] = []): void => {
    let target = file as string;
    if (typeof file !== 'string') writeFileSync((target = path()), file);
    const before = values(store);
    const steps = trainers.map((t) => t.step);
    const error = refusal(() => loadCheckpoint(target, store, trainers.map(asTrainer)));
    expect(error.message).toBe(`${target}: ${message}`);
    expect(values(store)).toEqual(before);
    expect(trainers.map((t) => t.step)).toEqual(steps);
  };

  it('refuses a missing file, a short one and one of another format', () => {
    refuses(join(dir, 'none.ckpt'), 'expected a readable checkpoint file, got ENOENT');
    refuses(bytes.subarray(0, 43), 'expected a checkpoint of at least 44 bytes, got 43 (truncated)');
    refuses(Buffer.concat([Buffer.from('DOPCKPT2'), bytes.subarray(8)]), 'expected a checkpoint starting with DOPCKPT1, got "DOPCKPT2"');
  });

  it('refuses a cut header, a header that is not JSON and cut data', () => {
    const cutHeader = Buffer.from(bytes.subarray(0, 60));
    refuses(cutHeader, `expected a ${bytes.readUInt32LE(40)}-byte header, got 16 bytes (truncated)`);
    refuses(bytes.subarray(0, 44), `expected a ${bytes.readUInt32LE(40)}-byte header, got 0 bytes (truncated)`); // the prefix alone
    refuses(layout(undefined, undefined, '{"version": 1,'), 'expected a JSON header, got unreadable bytes (corrupt)');
    refuses(bytes.subarray(0, bytes.length - 4), `expected ${bytes.length} bytes, got ${bytes.length - 4} (truncated)`);
  });

  it('refuses a file whose checksum does not match', () => {
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1]! ^= 0x01;
    const stored = flipped.subarray(8, 40).toString('hex');
    const actual = createHash('sha256').update(flipped.subarray(40)).digest('hex');
    refuses(flipped, `checksum mismatch: expected sha256 ${stored}, got ${actual} (corrupt)`);
  });

  it('refuses a parameter the file lacks or holds in another shape', () => {
    refuses(layout({ version: 1, dtype: 'float32', trainers: {}, tensors: [] }), 'parameter a.weight: expected shape [3, 5] (model), got no such parameter in the file');
    // a header that ends the file exactly (no padding, no data) is whole
    const text = JSON.stringify({ version: 1, dtype: 'float32', trainers: {}, tensors: [] });
    const exact = layout(undefined, undefined, text.padEnd(text.length + ((12 - (text.length % 8)) % 8)));
    expect(exact.length % 8).toBe(0);
    refuses(exact, 'parameter a.weight: expected shape [3, 5] (model), got no such parameter in the file');
    const otherShape = path();
    saveCheckpoint(otherShape, model(8, 'float32', { 'a.weight': [5, 3], 'a.bias': [5], 'longer.name.w': [2, 2, 2] }));
    refuses(otherShape, 'parameter a.weight: expected shape [3, 5] (model), got [5, 3] (file)');
    const otherRank = path();
    saveCheckpoint(otherRank, model(8, 'float32', { 'a.weight': [3, 5], 'a.bias': [5, 1], 'longer.name.w': [2, 2, 2] }));
    refuses(otherRank, 'parameter a.bias: expected shape [5] (model), got [5, 1] (file)');
    const longer = path();
    saveCheckpoint(longer, model(8, 'float32', { 'a.weight': [3, 5], 'a.bias': [5], 'longer.name.w': [2, 2] }));
    refuses(longer, 'parameter longer.name.w: expected shape [2, 2, 2] (model), got [2, 2] (file)');
  });

  it("refuses a trainer whose state the file lacks, or whose moments are missing or shaped otherwise", () => {
    refuses(bytes, 'expected optimiser state for trainer critic, got none', model(7), [new MomentsTrainer('critic', { 'a.bias': [5] })]);
    refuses(bytes, 'optimiser state actor/m/a.bias: missing from the file', model(7), [new MomentsTrainer('actor', { 'a.weight': [3, 5], 'a.bias': [5] })]);
    const onlyM = path();
    const withM = JSON.parse(bytes.subarray(44, 44 + bytes.readUInt32LE(40)).toString('utf8')) as { tensors: { name: string; shape: number[] }[] };
    const kept = withM.tensors.filter((t) => !t.name.startsWith('adam/actor/v/'));
    const data = new Uint8Array(kept.reduce((n, t) => n + t.shape.reduce((a, d) => a * d, 1) * 4, 0));
    writeFileSync(onlyM, layout({ ...withM, tensors: kept }, data));
    refuses(onlyM, 'optimiser state actor/v/a.weight: missing from the file', model(7), [new MomentsTrainer('actor', { 'a.weight': [3, 5] })]);
    refuses(bytes, 'optimiser state actor/m/a.weight: expected shape [5, 3] (model), got [3, 5] (file)', model(7), [new MomentsTrainer('actor', { 'a.weight': [5, 3] })]);
  });
});
