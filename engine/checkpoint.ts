/**
 * One file with every parameter and each trainer's Adam state.
 *
 * Layout: "DOPCKPT1" | SHA-256 of the rest (32 bytes) | header length (u32 LE) | header JSON |
 * zero padding to 8 bytes | tensor data (float32 or float64, little endian, in header order).
 * Written atomically; loading checks size, checksum and every shape before changing anything.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InputError } from '../common/errors.js';
import type { DType } from './graph.js';
import { shapeText, sizeOf } from './graph.js';
import type { FloatArray, ParamStore } from './params.js';
import type { Trainer } from './trainer.js';
import { writeFileAtomic } from './files.js';

const MAGIC = 'DOPCKPT1';
const PREFIX = MAGIC.length + 32 + 4;

interface HeaderTensor {
  name: string;
  shape: number[];
}

interface Header {
  version: 1;
  dtype: DType;
  /** Trainer name -> number of steps taken. */
  trainers: Record<string, number>;
  tensors: HeaderTensor[];
}

const paramKey = (name: string): string => `param/${name}`;
const momentKey = (trainer: string, which: 'm' | 'v', name: string): string => `adam/${trainer}/${which}/${name}`;

export function saveCheckpoint(path: string, store: ParamStore, trainers: readonly Trainer[] = []): void {
  const entries: { name: string; shape: number[]; data: FloatArray }[] = [];
  for (const name of store.names()) {
    const p = store.get(name);
    entries.push({ name: paramKey(name), shape: [...p.shape], data: p.data });
  }
  const steps: Record<string, number> = {};
  for (const trainer of trainers) {
    const state = trainer.optimizerState();
    steps[trainer.name] = state.step;
    for (const moment of state.moments) {
      entries.push({ name: momentKey(trainer.name, 'm', moment.name), shape: moment.shape, data: moment.m });
      entries.push({ name: momentKey(trainer.name, 'v', moment.name), shape: moment.shape, data: moment.v });
    }
  }
  const header: Header = { version: 1, dtype: store.dtype, trainers: steps, tensors: entries.map(({ name, shape }) => ({ name, shape })) };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const padding = (8 - ((PREFIX + headerBytes.length) % 8)) % 8;
  const width = store.dtype === 'float32' ? 4 : 8;
  const dataLength = entries.reduce((n, e) => n + e.data.length * width, 0);
  const body = Buffer.alloc(4 + headerBytes.length + padding + dataLength);
  body.writeUInt32LE(headerBytes.length, 0);
  headerBytes.copy(body, 4);
  let offset = 4 + headerBytes.length + padding;
  for (const e of entries) {
    const bytes = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
    bytes.copy(body, offset);
    offset += bytes.length;
  }
  const digest = createHash('sha256').update(body).digest();
  writeFileAtomic(path, Buffer.concat([Buffer.from(MAGIC, 'latin1'), digest, body]));
}

/**
 * Load parameters (and the given trainers' optimiser state) from `path`. Parameters the store does
 * not have yet are created; a shape that differs from the model's is refused naming both shapes.
 */
export function loadCheckpoint(path: string, store: ParamStore, trainers: readonly Trainer[] = []): void {
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch (error) {
    throw new InputError(path, `expected a readable checkpoint file, got ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (file.length < PREFIX) throw new InputError(path, `expected a checkpoint of at least ${PREFIX} bytes, got ${file.length} (truncated)`);
  if (file.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) {
    throw new InputError(path, `expected a checkpoint starting with ${MAGIC}, got ${JSON.stringify(file.subarray(0, MAGIC.length).toString('latin1'))}`);
  }
  const body = file.subarray(MAGIC.length + 32);
  const headerLength = body.readUInt32LE(0);
  if (4 + headerLength > body.length) throw new InputError(path, `expected a ${headerLength}-byte header, got ${body.length - 4} bytes (truncated)`);
  let header: Header;
  try {
    header = JSON.parse(body.subarray(4, 4 + headerLength).toString('utf8')) as Header;
  } catch {
    throw new InputError(path, 'expected a JSON header, got unreadable bytes (corrupt)');
  }
  const width = header.dtype === 'float64' ? 8 : 4;
  const padding = (8 - ((PREFIX + headerLength) % 8)) % 8;
  const dataStart = 4 + headerLength + padding;
  const expected = MAGIC.length + 32 + dataStart + header.tensors.reduce((n, t) => n + sizeOf(t.shape) * width, 0);
  if (file.length < expected) throw new InputError(path, `expected ${expected} bytes, got ${file.length} (truncated)`);
  const digest = createHash('sha256').update(body).digest();
  const stored = file.subarray(MAGIC.length, MAGIC.length + 32);
  if (!digest.equals(stored)) {
    throw new InputError(path, `checksum mismatch: expected sha256 ${stored.toString('hex')}, got ${digest.toString('hex')} (corrupt)`);
  }

  // Read every tensor, then check them all, then apply: a bad file changes nothing.
  const tensors = new Map<string, { shape: number[]; values: Float32Array | Float64Array }>();
  let offset = dataStart;
  for (const t of header.tensors) {
    const size = sizeOf(t.shape);
    const slice = body.subarray(offset, offset + size * width);
    const copy = new Uint8Array(slice); // aligned copy
    tensors.set(t.name, { shape: t.shape, values: width === 4 ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer) });
    offset += size * width;
  }
  const checkShape = (label: string, model: readonly number[], saved: readonly number[]): void => {
    if (model.length !== saved.length || model.some((d, i) => d !== saved[i])) {
      throw new InputError(path, `${label}: expected shape ${shapeText(model)} (model), got ${shapeText(saved)} (file)`);
    }
  };
  for (const name of store.names()) {
    const saved = tensors.get(paramKey(name));
    if (!saved) throw new InputError(path, `parameter ${name}: expected shape ${shapeText(store.get(name).shape)} (model), got no such parameter in the file`);
    checkShape(`parameter ${name}`, store.get(name).shape, saved.shape);
  }
  for (const trainer of trainers) {
    if (!(trainer.name in header.trainers)) throw new InputError(path, `expected optimiser state for trainer ${trainer.name}, got none`);
    for (const moment of trainer.optimizerState().moments) {
      for (const which of ['m', 'v'] as const) {
        const saved = tensors.get(momentKey(trainer.name, which, moment.name));
        if (!saved) throw new InputError(path, `optimiser state ${trainer.name}/${which}/${moment.name}: missing from the file`);
        checkShape(`optimiser state ${trainer.name}/${which}/${moment.name}`, moment.shape, saved.shape);
      }
    }
  }

  for (const [key, saved] of tensors) {
    if (!key.startsWith('param/')) continue;
    const name = key.slice('param/'.length);
    store.ensure(name, saved.shape, { kind: 'zeros' }).data.set(saved.values);
  }
  for (const trainer of trainers) {
    const moments = new Map<string, { m: ArrayLike<number>; v: ArrayLike<number> }>();
    for (const moment of trainer.optimizerState().moments) {
      moments.set(moment.name, {
        m: tensors.get(momentKey(trainer.name, 'm', moment.name))!.values,
        v: tensors.get(momentKey(trainer.name, 'v', moment.name))!.values,
      });
    }
    trainer.setOptimizerState(header.trainers[trainer.name]!, moments);
  }
}
