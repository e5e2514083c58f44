import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.js';
import { writeFileAtomic } from '../engine/files.js';
import { mountSmallDisk, type SmallDisk } from '../engine/testing.js';
import { CheckpointStore, packFloats, RecordLog, unpackFloats } from './run-store.js';

const root = mkdtempSync(join(tmpdir(), 'run-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => mkdtempSync(join(root, `t${n++}-`));

describe('episode log', () => {
  it('reads back what was appended, floats exactly', () => {
    const log = new RecordLog<{ i: number; x: string }>(join(fresh(), 'episodes.log'));
    const values = Float32Array.of(0.1, -3.5e-7, 12345.678);
    log.append({ i: 1, x: packFloats(values) });
    log.append({ i: 2, x: '' });
    const { records, truncatedTail } = log.read();
    expect(records.map((r) => r.i)).toEqual([1, 2]);
    expect([...unpackFloats(records[0]!.x)]).toEqual([...values]);
    expect(truncatedTail).toBeUndefined();
  });

  it('cuts off and reports a torn last line (a kill during a write), keeping every complete record', () => {
    const path = join(fresh(), 'episodes.log');
    const log = new RecordLog<{ i: number }>(path);
    log.append({ i: 1 });
    log.append({ i: 2 });
    const good = readFileSync(path, 'utf8');
    appendFileSync(path, '0123456789abcdef {"i":3,"obs":"AAAA');
    const { records, truncatedTail } = log.read();
    expect(records.map((r) => r.i)).toEqual([1, 2]);
    expect(truncatedTail?.line).toBe(3);
    expect(readFileSync(path, 'utf8')).toBe(good);
    log.append({ i: 3 });
    expect(log.read().records.map((r) => r.i)).toEqual([1, 2, 3]);
  });

  it('refuses a corrupt line before the end, naming the line, and changes nothing', () => {
    const path = join(fresh(), 'episodes.log');
    const log = new RecordLog<{ i: number }>(path);
    log.append({ i: 1 });
    log.append({ i: 2 });
    log.append({ i: 3 });
    const text = readFileSync(path, 'utf8').replace('{"i":2}', '{"i":7}');
    writeFileSync(path, text);
    expect(() => log.read()).toThrow(/line 2: expected a record with a matching checksum/);
    expect(readFileSync(path, 'utf8')).toBe(text);
  });
});

describe('checkpoints', () => {
  const state = (updates: number) => ({ updates, episodes: updates / 10, learnerRng: 42, extra: {} });
  const write = (content: string) => (path: string): void => writeFileSync(path, content);

  it('loads the newest good checkpoint and keeps only the two newest', () => {
    const store = new CheckpointStore(fresh());
    for (const u of [10, 20, 30]) store.save(state(u), write(`weights ${u}`));
    const seen: string[] = [];
    const { loaded, problems } = store.loadNewest((p) => seen.push(readFileSync(p, 'utf8')));
    expect(loaded?.updates).toBe(30);
    expect(seen).toEqual(['weights 30']);
    expect(problems).toEqual([]);
    expect(existsSync(join(store.dir, '000000010'))).toBe(false);
  });

  it('reports a checkpoint failing its checksum and falls back to the previous good one', () => {
    const store = new CheckpointStore(fresh());
    store.save(state(10), write('weights 10'));
    const newest = store.save(state(20), write('weights 20'));
    writeFileSync(join(newest, 'learner.ckpt'), 'weights 2X');
    const seen: string[] = [];
    const { loaded, problems } = store.loadNewest((p) => seen.push(readFileSync(p, 'utf8')));
    expect(loaded?.updates).toBe(10);
    expect(seen).toEqual(['weights 10']);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.problem).toMatch(/learner.ckpt: expected sha256 .* \(corrupt\)/);
  });

  it('a checkpoint rejected by the loader (e.g. wrong shapes) is reported too; none good is an error, never a reset', () => {
    const store = new CheckpointStore(fresh());
    store.save(state(10), write('a'));
    store.save(state(20), write('b'));
    expect(() =>
      store.loadNewest(() => {
        throw new Error('parameter q1.0.weight: expected shape [8, 16], got [9, 16]');
      }),
    ).toThrow(/expected at least one good checkpoint, got 2 failing: .*expected shape \[8, 16\]/);
  });

  it('an empty folder has no checkpoint (a new run), and a state.json edit is caught', () => {
    const store = new CheckpointStore(fresh());
    expect(store.loadNewest(() => undefined).loaded).toBeUndefined();
    const dir = store.save(state(10), write('a'));
    store.save(state(20), write('b'));
    const file = join(store.dir, '000000020', 'state.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"episodes": 2', '"episodes": 3'));
    const { loaded, problems } = store.loadNewest(() => undefined);
    expect(loaded?.path).toBe(dir);
    expect(problems[0]!.problem).toMatch(/state.json: checksum mismatch/);
  });
});

// A real full disk: a 256 KiB tmpfs, filled up before the write under test.
const disk = mountSmallDisk(256 * 1024);
if (typeof disk === 'string') console.warn(`skipping the full-disk tests: ${disk}`);
afterAll(() => (typeof disk === 'string' ? undefined : disk.unmount()));
const onDisk = typeof disk === 'string' ? it.skip : it;

describe(`a full disk${typeof disk === 'string' ? ` (skipped: ${disk})` : ''}`, () => {
  const full = disk as SmallDisk;
  const big = 'x'.repeat(64 * 1024);

  onDisk('an append that does not fit leaves the log as it was and names its folder', () => {
    const dir = mkdtempSync(join(full.dir, 'log-'));
    const path = join(dir, 'episodes.log');
    const log = new RecordLog<{ i: number; x?: string }>(path);
    log.append({ i: 1 });
    const before = readFileSync(path);
    full.fill();
    try {
      let error: unknown;
      try {
        log.append({ i: 2, x: big });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InputError);
      expect((error as Error).message).toMatch(new RegExp(`^${dir}: expected room to write episodes\\.log \\(a \\d+-byte record\\), got no space left on the device \\(ENOSPC\\)`));
      expect(readFileSync(path)).toEqual(before); // no torn line
    } finally {
      full.free();
    }
    log.append({ i: 3 });
    const { records, truncatedTail } = log.read();
    expect(records.map((r) => r.i)).toEqual([1, 3]);
    expect(truncatedTail).toBeUndefined();
  });

  onDisk('a checkpoint that does not fit leaves no temporary folder, names the checkpoints folder, and the older one still loads', () => {
    const store = new CheckpointStore(mkdtempSync(join(full.dir, 'run-')));
    const writeAtomic = (content: string) => (path: string): void => writeFileAtomic(path, Buffer.from(content));
    store.save({ updates: 10, episodes: 1, learnerRng: 1, extra: {} }, writeAtomic('weights 10'));
    full.fill();
    try {
      expect(() => store.save({ updates: 20, episodes: 2, learnerRng: 2, extra: {} }, writeAtomic(big))).toThrow(
        new RegExp(`^${store.dir}: expected room to write checkpoint 000000020, got no space left on the device \\(ENOSPC\\)`),
      );
      expect(readdirSync(store.dir)).toEqual(['000000010']);
    } finally {
      full.free();
    }
    const seen: string[] = [];
    expect(store.loadNewest((p) => seen.push(readFileSync(p, 'utf8'))).loaded?.updates).toBe(10);
    expect(seen).toEqual(['weights 10']);
  });
});
