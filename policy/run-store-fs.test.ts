/**
 * The checkpoint store on file systems and neighbours that this machine's does not show: a listing
 * in no particular order (ext4's hashed directories, network file systems), and a folder that
 * vanishes between the listing and its removal (another process in the same run folder, e.g. an
 * old resumed one, pruning or finishing a save at the same time). Neither can be made to happen on
 * demand with a real disk, so `readdirSync` is mocked for this file only: it returns the real
 * listing, reordered, or removes a listed folder (with the real fs) right after listing it.
 * Written against mutants StrykerJS left alive (the sort in `list`, `force` in `prune`).
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { CheckpointStore } from './run-store.js';

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof fs>();
  return { ...real, readdirSync: vi.fn(real.readdirSync) };
});
const real = await vi.importActual<typeof fs>('node:fs');
const readdir = vi.mocked(fs.readdirSync);

const root = fs.mkdtempSync(join(tmpdir(), 'run-store-fs-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => readdir.mockReset().mockImplementation(real.readdirSync));
let n = 0;
const fresh = (): string => fs.mkdtempSync(join(root, `t${n++}-`));
const state = (updates: number) => ({ updates, episodes: 1, learnerRng: 3, extra: {} });
const write = (content: string) => (path: string): void => fs.writeFileSync(path, content);
const names = (dir: string): string[] => real.readdirSync(dir).sort();

/** Lists folders through `order` (given the names sorted by name). */
function listIn(order: (sorted: string[]) => string[]): void {
  readdir.mockImplementation(((dir: fs.PathLike) => order(real.readdirSync(dir).sort())) as typeof fs.readdirSync);
}

/** The `call`-th listing from now returns the real names, then `path` vanishes as another process removes it. */
function vanishAfterListing(call: number, path: string): void {
  let calls = 0;
  readdir.mockClear().mockImplementation(((dir: fs.PathLike) => {
    const listed = real.readdirSync(dir);
    if (++calls === call) real.rmSync(path, { recursive: true });
    return listed;
  }) as typeof fs.readdirSync);
}

describe('checkpoint store: a folder listed in no particular order (ext4 hashed directories, network file systems)', () => {
  const orders: [string, (sorted: string[]) => string[]][] = [
    ['newest first', (sorted) => [...sorted].reverse()],
    ['in another order', (sorted) => [...sorted.slice(1), ...sorted.slice(0, 1)]],
  ];
  for (const [label, order] of orders) {
    it(`keeps and loads the two newest checkpoints when the file system lists them ${label}`, () => {
      listIn(order);
      const store = new CheckpointStore(fresh());
      let newest = '';
      for (const u of [10, 20, 30]) newest = store.save(state(u), write(`w${u}`));
      expect(names(store.dir)).toEqual(['000000020', '000000030']);
      expect(fs.existsSync(join(newest, 'state.json'))).toBe(true);
      const seen: string[] = [];
      const { loaded, problems } = store.loadNewest((p) => seen.push(fs.readFileSync(p, 'utf8')));
      expect(loaded?.updates).toBe(30);
      expect(seen).toEqual(['w30']);
      expect(problems).toEqual([]);
    });
  }
});

describe('checkpoint store: another process in the same run folder at the same time', () => {
  it('saves when another process prunes the old checkpoint between the listing and its removal', () => {
    const store = new CheckpointStore(fresh());
    store.save(state(10), write('w10'));
    store.save(state(20), write('w20'));
    vanishAfterListing(1, join(store.dir, '000000010'));
    expect(store.save(state(30), write('w30'))).toBe(join(store.dir, '000000030'));
    expect(readdir).toHaveBeenCalledTimes(2);
    expect(names(store.dir)).toEqual(['000000020', '000000030']);
    expect(store.loadNewest(() => undefined).loaded?.updates).toBe(30);
  });

  it("saves when another process's half-written folder vanishes (its save done) between the listing and its removal", () => {
    const store = new CheckpointStore(fresh());
    store.save(state(10), write('w10'));
    const stale = join(store.dir, '.000000020.999999.tmp');
    fs.mkdirSync(stale);
    fs.writeFileSync(join(stale, 'learner.ckpt'), 'half');
    vanishAfterListing(2, stale); // the first listing is of the checkpoints, the second of the temporary folders
    expect(store.save(state(20), write('w20'))).toBe(join(store.dir, '000000020'));
    expect(readdir).toHaveBeenCalledTimes(2);
    expect(names(store.dir)).toEqual(['000000010', '000000020']);
    expect(store.loadNewest(() => undefined).loaded?.updates).toBe(20);
  });
});
