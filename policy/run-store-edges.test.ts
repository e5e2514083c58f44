/**
 * The run store's durability details that run-store.test.ts leaves open: what is fsynced and
 * closed, the log's edge lines (a corrupt line that looks like the end, a line with a checksum and
 * no record), and the checkpoint folder's housekeeping (leftovers, strays, rewrites, order).
 * Written against the mutants StrykerJS left alive. fsync itself shows only after a power cut, so
 * the file system calls are recorded instead.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { InputError } from '../common/errors.js';
import { CheckpointStore, packWeights, RecordLog, unpackWeights } from './run-store.js';

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof fs>();
  return { ...real, openSync: vi.fn(real.openSync), fsyncSync: vi.fn(real.fsyncSync), closeSync: vi.fn(real.closeSync) };
});

const root = fs.mkdtempSync(join(tmpdir(), 'run-store-edges-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => fs.mkdtempSync(join(root, `t${n++}-`));
const state = (updates: number) => ({ updates, episodes: 1, learnerRng: 3, extra: {} });
const write = (content: string) => (path: string): void => fs.writeFileSync(path, content);

/** The file system calls since the last reset, as [call, path] (fds mapped back to the path opened). */
function calls(): [string, string][] {
  const paths = new Map<number, string>();
  const all = [
    ...vi.mocked(fs.openSync).mock.calls.map((args, i) => ({ order: vi.mocked(fs.openSync).mock.invocationCallOrder[i]!, call: 'open', args, fd: vi.mocked(fs.openSync).mock.results[i]!.value as number })),
    ...vi.mocked(fs.fsyncSync).mock.calls.map((args, i) => ({ order: vi.mocked(fs.fsyncSync).mock.invocationCallOrder[i]!, call: 'fsync', args, fd: args[0] })),
    ...vi.mocked(fs.closeSync).mock.calls.map((args, i) => ({ order: vi.mocked(fs.closeSync).mock.invocationCallOrder[i]!, call: 'close', args, fd: args[0] })),
  ].sort((a, b) => a.order - b.order);
  return all.map((c) => {
    if (c.call === 'open') paths.set(c.fd, String(c.args[0]));
    return [c.call, paths.get(c.fd) ?? '?'];
  });
}
beforeEach(() => vi.clearAllMocks());

describe('run store: what reaches the disk', () => {
  it('fsyncs each appended record before it returns, and closes the log', () => {
    const path = join(fresh(), 'episodes.log');
    new RecordLog<{ i: number }>(path).append({ i: 1 });
    expect(calls()).toEqual([['open', path], ['fsync', path], ['close', path]]);
  });

  it('fsyncs the checkpoints folder once the new checkpoint is in place, and closes what it opens', () => {
    const store = new CheckpointStore(fresh());
    const saved = store.save(state(10), write('w'));
    const folder = calls().filter(([, path]) => path === store.dir);
    expect(folder).toEqual([['open', store.dir], ['fsync', store.dir], ['close', store.dir]]);
    const opened = calls().filter(([call]) => call === 'open').length;
    expect(calls().filter(([call]) => call === 'close')).toHaveLength(opened);
    expect(fs.existsSync(join(saved, 'state.json'))).toBe(true);
  });
});

describe('run store: the episode log at its edges', () => {
  it('reads a log that does not exist yet as empty, and does not create it', () => {
    const path = join(fresh(), 'episodes.log');
    expect(new RecordLog(path).read()).toEqual({ records: [] });
    expect(fs.existsSync(path)).toBe(false);
  });

  it('reports the torn line number and its bytes', () => {
    const path = join(fresh(), 'episodes.log');
    const log = new RecordLog<{ i: number }>(path);
    log.append({ i: 1 });
    fs.appendFileSync(path, 'abc{"i"');
    expect(log.read().truncatedTail).toEqual({ line: 2, bytes: 7 });
  });

  it('cuts off a corrupt last line even with its newline (a write torn inside), keeping the rest', () => {
    const path = join(fresh(), 'episodes.log');
    const log = new RecordLog<{ i: number }>(path);
    log.append({ i: 1 });
    const good = fs.readFileSync(path, 'utf8');
    fs.appendFileSync(path, '0000000000000000 {"i":2}\n');
    expect(log.read()).toEqual({ records: [{ i: 1 }], truncatedTail: { line: 2, bytes: 25 } });
    expect(fs.readFileSync(path, 'utf8')).toBe(good);
  });

  it('refuses a corrupt line that is not the last, even before a blank line or a torn tail', () => {
    for (const after of ['\n', 'torn {"i"']) {
      const path = join(fresh(), 'episodes.log');
      const log = new RecordLog<{ i: number }>(path);
      log.append({ i: 1 });
      fs.appendFileSync(path, `0000000000000000 {"i":2}\n${after}`);
      const text = fs.readFileSync(path, 'utf8');
      expect(() => log.read(), JSON.stringify(after)).toThrow(new InputError(path, 'line 2: expected a record with a matching checksum, got a corrupt line (the log is kept as it is)'));
      expect(fs.readFileSync(path, 'utf8')).toBe(text);
    }
  });

  it('refuses a line that holds a checksum and no record', () => {
    // The checksum of the empty text, with its separator: it matches, but there is no record after it.
    const empty = 'e3b0c44298fc1c14 ';
    const path = join(fresh(), 'episodes.log');
    const log = new RecordLog<{ i: number }>(path);
    log.append({ i: 1 });
    fs.appendFileSync(path, `${empty}\n`);
    log.append({ i: 3 });
    expect(() => log.read()).toThrow(/line 2: expected a record with a matching checksum/);
  });

  it('packs named weights for JSON and back, exactly', () => {
    const weights = { 'q1.weight': Float32Array.of(0.1, -2, 3e-8), bias: Float32Array.of() };
    const packed = packWeights(weights);
    expect(Object.keys(packed)).toEqual(['q1.weight', 'bias']);
    const back = unpackWeights(JSON.parse(JSON.stringify(packed)) as Record<string, string>);
    expect(Object.fromEntries(Object.entries(back).map(([k, v]) => [k, Array.from(v)]))).toEqual({ 'q1.weight': Array.from(weights['q1.weight']), bias: [] });
  });
});

describe('run store: the checkpoints folder', () => {
  it('lives in <run>/checkpoints, made on first use however deep, and opens again for a resumed run', () => {
    const run = join(fresh(), 'a', 'b');
    const store = new CheckpointStore(run);
    expect(store.dir).toBe(join(run, 'checkpoints'));
    store.save(state(10), write('w'));
    expect(new CheckpointStore(run).loadNewest(() => undefined).loaded?.updates).toBe(10);
  });

  it('replaces a checkpoint saved again at the same update count', () => {
    const store = new CheckpointStore(fresh());
    store.save(state(10), write('first'));
    store.save(state(10), write('second'));
    const seen: string[] = [];
    store.loadNewest((p) => seen.push(fs.readFileSync(p, 'utf8')));
    expect(seen).toEqual(['second']);
  });

  it('clears a half-written folder of its own name left by an earlier try, and removes a failed one', () => {
    const store = new CheckpointStore(fresh());
    const leftover = join(store.dir, `.000000010.${process.pid}.tmp`);
    fs.mkdirSync(leftover);
    fs.writeFileSync(join(leftover, 'learner.ckpt'), 'half');
    store.save(state(10), write('w'));
    expect(fs.readdirSync(store.dir)).toEqual(['000000010']);
    const failure = new Error('the learner could not be written');
    expect(() => store.save(state(20), (path) => {
      fs.writeFileSync(path, 'part');
      throw failure;
    })).toThrow(failure);
    expect(fs.readdirSync(store.dir)).toEqual(['000000010']);
  });

  it('reports the error that stopped a save, not one from cleaning up after it', () => {
    const store = new CheckpointStore(fresh());
    fs.rmSync(store.dir, { recursive: true }); // the folder vanished under the run: making the temporary folder fails
    let error: NodeJS.ErrnoException | undefined;
    try {
      store.save(state(10), write('w'));
    } catch (e) {
      error = e as NodeJS.ErrnoException;
    }
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'mkdir' });
  });

  it("removes other processes' half-written folders on the next save, and ignores anything else in the folder", () => {
    const store = new CheckpointStore(fresh());
    store.save(state(10), write('w10'));
    const stale = join(store.dir, '.000000020.999999.tmp');
    fs.mkdirSync(stale);
    fs.writeFileSync(join(stale, 'learner.ckpt'), 'half');
    for (const name of ['notes.txt', 'x000000050', '000000060.bak']) fs.writeFileSync(join(store.dir, name), 'not a checkpoint');
    store.save(state(20), write('w20'));
    store.save(state(30), write('w30'));
    expect(fs.readdirSync(store.dir).sort()).toEqual(['000000020', '000000030', '000000060.bak', 'notes.txt', 'x000000050']);
    const { loaded, problems } = store.loadNewest(() => undefined);
    expect(loaded?.updates).toBe(30);
    expect(problems).toEqual([]);
  });

  it('keeps the two highest update counts, whatever order they were written in', () => {
    const store = new CheckpointStore(fresh());
    for (const u of [30, 10, 20, 5]) store.save(state(u), write(`w${u}`));
    expect(fs.readdirSync(store.dir).sort()).toEqual(['000000020', '000000030']);
    expect(store.loadNewest(() => undefined).loaded?.updates).toBe(30);
  });

  it('names every failing checkpoint when none is good', () => {
    const store = new CheckpointStore(fresh());
    store.save(state(10), write('a'));
    store.save(state(20), write('b'));
    expect(() => store.loadNewest((p) => {
      throw new Error(`bad ${fs.readFileSync(p, 'utf8')}`);
    })).toThrow(new InputError(store.dir, `expected at least one good checkpoint, got 2 failing: ${join(store.dir, '000000020')}: bad b; ${join(store.dir, '000000010')}: bad a`));
  });
});
