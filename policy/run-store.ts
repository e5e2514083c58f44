/**
 * Durability of a training run, in one folder:
 *
 *   run.json                 the run's settings (written once, atomically)
 *   episodes.log             append-only: one line per demo, training episode and evaluation,
 *                            each `<sha256 prefix> <json>`, fsynced before the run goes on
 *   checkpoints/<n>/         learner.ckpt (weights + optimiser state, engine format with its own
 *                            SHA-256) and state.json (counters, RNG state, checksums); a folder is
 *                            written under a temporary name and renamed, so it exists whole or not
 *
 * The replay buffers are not copied into checkpoints: every scored transition is in the episode
 * log, so a restart rebuilds both buffers from it exactly. After `kill -9` the log may end in a
 * torn line (an episode that was being written, not completed): it is cut off and reported. A bad
 * line anywhere else, or a checkpoint failing its checksum, is reported by name; an older good
 * checkpoint is used, never a silent reset.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../common/errors.js';
import { diskFullAs, writeFileAtomic } from '../engine/files.js';

function digest(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

const LINE_HASH = 16;

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Float32 values as base64 of their little-endian bytes: exact and compact in JSON. */
export function packFloats(values: ArrayLike<number>): string {
  const array = values instanceof Float32Array ? values : Float32Array.from(values);
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
}

export function unpackFloats(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  const copy = new Uint8Array(bytes);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

/** Named float arrays (a network's parameters) packed for JSON, and back. */
export function packWeights(weights: Record<string, Float32Array>): Record<string, string> {
  return Object.fromEntries(Object.entries(weights).map(([name, values]) => [name, packFloats(values)]));
}

export function unpackWeights(packed: Record<string, string>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(packed).map(([name, text]) => [name, unpackFloats(text)]));
}

export interface LogReadResult<T> {
  records: T[];
  /** A torn final line was cut off (a write interrupted by a kill). */
  truncatedTail?: { line: number; bytes: number };
}

/** An append-only log of JSON records, each line carrying a checksum of its JSON. */
export class RecordLog<T> {
  constructor(readonly path: string) {}

  /** Reads every record; cuts off a torn last line (reporting it), refuses a corrupt line before it. */
  read(): LogReadResult<T> {
    if (!existsSync(this.path)) return { records: [] };
    const text = readFileSync(this.path, 'utf8');
    const lines = text.split('\n');
    const records: T[] = [];
    let offset = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const complete = i < lines.length - 1; // followed by a newline
      if (!complete && line === '') break;
      const ok = line.length > LINE_HASH + 1 && digest(line.slice(LINE_HASH + 1)).slice(0, LINE_HASH) === line.slice(0, LINE_HASH);
      if (!ok || !complete) {
        const isLast = i >= lines.length - 2 && (!complete || lines[i + 1] === '');
        if (isLast) {
          truncateSync(this.path, offset);
          return { records, truncatedTail: { line: i + 1, bytes: Buffer.byteLength(text) - offset } };
        }
        throw new InputError(this.path, `line ${i + 1}: expected a record with a matching checksum, got a corrupt line (the log is kept as it is)`);
      }
      records.push(JSON.parse(line.slice(LINE_HASH + 1)) as T);
      offset += Buffer.byteLength(line) + 1;
    }
    return { records };
  }

  /** Appends one record and fsyncs it: once this returns, the record survives a crash. */
  append(record: T): void {
    const json = JSON.stringify(record);
    const line = Buffer.from(`${digest(json).slice(0, LINE_HASH)} ${json}\n`);
    let fd: number;
    try {
      fd = openSync(this.path, 'a');
    } catch (error) {
      throw diskFullAs(error, dirname(this.path), basename(this.path));
    }
    const size = fstatSync(fd).size;
    try {
      // A full disk may take part of the line (a short write) before refusing the rest.
      let written = 0;
      while (written < line.length) written += writeSync(fd, line, written, line.length - written);
      fsyncSync(fd);
    } catch (error) {
      // Cut the part-written line off, so the log holds complete records only.
      ftruncateSync(fd, size);
      throw diskFullAs(error, dirname(this.path), `${basename(this.path)} (a ${line.length}-byte record)`);
    } finally {
      closeSync(fd);
    }
  }
}

export interface CheckpointState {
  /** Learner updates done when the checkpoint was taken (also its folder name). */
  updates: number;
  /** Training episodes the learner had seen in its buffer. */
  episodes: number;
  learnerRng: number;
  /** Anything else the session keeps (eval schedule position). */
  extra: Record<string, unknown>;
}

interface StateFile extends CheckpointState {
  learnerSha256: string;
  /** sha256 of this object's JSON without this field. */
  checksum: string;
}

export interface CheckpointProblem {
  checkpoint: string;
  problem: string;
}

/** Checkpoints of the learner, newest first on load; the two newest good ones are kept. */
export class CheckpointStore {
  readonly dir: string;
  constructor(runDir: string) {
    this.dir = join(runDir, 'checkpoints');
    mkdirSync(this.dir, { recursive: true });
  }

  /** `writeLearner(path)` writes the learner file; then state.json; then the folder appears whole. */
  save(state: CheckpointState, writeLearner: (path: string) => void): string {
    const name = String(state.updates).padStart(9, '0');
    const final = join(this.dir, name);
    const temp = join(this.dir, `.${name}.${process.pid}.tmp`);
    rmSync(temp, { recursive: true, force: true });
    try {
      mkdirSync(temp);
      writeLearner(join(temp, 'learner.ckpt'));
      const body: Omit<StateFile, 'checksum'> = { ...state, learnerSha256: digest(readFileSync(join(temp, 'learner.ckpt'))) };
      const file: StateFile = { ...body, checksum: digest(JSON.stringify(body)) };
      writeFileAtomic(join(temp, 'state.json'), Buffer.from(JSON.stringify(file, null, 1)));
    } catch (error) {
      // The older checkpoints stay as they are; the half-written one goes.
      rmSync(temp, { recursive: true, force: true });
      throw diskFullAs(error, this.dir, `checkpoint ${name}`);
    }
    rmSync(final, { recursive: true, force: true });
    renameSync(temp, final);
    fsyncDir(this.dir);
    this.prune();
    return final;
  }

  private list(): string[] {
    return readdirSync(this.dir)
      .filter((n) => /^\d+$/.test(n))
      .sort()
      .reverse();
  }

  private prune(): void {
    for (const old of this.list().slice(2)) rmSync(join(this.dir, old), { recursive: true, force: true });
    for (const temp of readdirSync(this.dir).filter((n) => n.endsWith('.tmp') && !n.includes(`.${process.pid}.`))) rmSync(join(this.dir, temp), { recursive: true, force: true });
  }

  /**
   * The newest checkpoint whose state checksum, learner checksum and `load` all succeed. Each one
   * that fails is returned in `problems` (the caller reports them). `loaded` is undefined when
   * there is no checkpoint at all; when checkpoints exist but none is good, this throws.
   */
  loadNewest(load: (learnerPath: string) => void): { loaded?: CheckpointState & { path: string }; problems: CheckpointProblem[] } {
    const problems: CheckpointProblem[] = [];
    const names = this.list();
    for (const name of names) {
      const dir = join(this.dir, name);
      try {
        const file = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as StateFile;
        const { checksum, ...body } = file;
        if (digest(JSON.stringify(body)) !== checksum) throw new Error('state.json: checksum mismatch (corrupt)');
        const learnerPath = join(dir, 'learner.ckpt');
        const actual = digest(readFileSync(learnerPath));
        if (actual !== file.learnerSha256) throw new Error(`learner.ckpt: expected sha256 ${file.learnerSha256}, got ${actual} (corrupt)`);
        load(learnerPath);
        return { loaded: { updates: file.updates, episodes: file.episodes, learnerRng: file.learnerRng, extra: file.extra, path: dir }, problems };
      } catch (error) {
        problems.push({ checkpoint: dir, problem: error instanceof Error ? error.message : String(error) });
      }
    }
    if (names.length > 0) {
      throw new InputError(this.dir, `expected at least one good checkpoint, got ${names.length} failing: ${problems.map((p) => `${p.checkpoint}: ${p.problem}`).join('; ')}`);
    }
    return { problems };
  }
}
