import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli/testing.js';

const work = mkdtempSync(join(tmpdir(), 'dopamine-open-episode-'));
const expected = 'expected an episode folder, a root holding one episode_* folder, or an .mcap file, got';

describe('opening an episode from the command line', () => {
  it('says a regular file is not an episode, in one line, for every command that opens one (exit 2)', () => {
    const file = join(work, 'notes.txt');
    writeFileSync(file, 'not an episode\n');
    for (const command of ['labels', 'pairs', 'score']) {
      const run = runCli([command, file]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr.split('\n').filter((line) => line.startsWith('error:'))).toEqual([`error: ${file}: ${expected} a file that is not .mcap`]);
    }
  });

  it('says a missing path is missing, listing the .mcap form too (exit 2)', () => {
    const missing = join(work, 'no-such-episode');
    const run = runCli(['labels', missing]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toBe(`error: ${missing}: ${expected} no such file or folder\n`);
  });
});
