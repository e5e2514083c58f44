import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/testing.js';
import { createLogger } from '../common/log.js';
import { configSchema, type ConfigInput } from '../config/schema.js';
import type { Episode } from '../reward/episode.js';
import { REFERENCE_VIEWS } from '../reward/episode-folder.js';
import { writeEpisodeMcap } from '../reward/mcap-export.js';
import { CAMERA_ROLES } from '../robot/types.js';
import { checkCalibration, checkWorkspace } from './check.js';
import { timingsFromMcap } from './sources.js';

const log = createLogger('test', 'silent');
const example = fileURLToPath(new URL('./examples/cam_high.yaml', import.meta.url));
let dir: string;
let bag: string;

/** A 20-frame, 10 fps episode of solid 40x30 frames, in memory. */
function memoryEpisode(): Episode {
  return {
    name: 'memory',
    instructions: ['test'],
    roles: CAMERA_ROLES,
    frameCount: 20,
    fps: 10,
    segments: [{ label: 'all', startFrame: 0, endFrame: 19 }],
    annotated: true,
    frame: async (_role, index) => Promise.resolve({ width: 40, height: 30, rgb: new Uint8Array(40 * 30 * 3).fill(index * 10) }),
    close: async () => Promise.resolve(),
  };
}

const config = (input: ConfigInput = {}) => configSchema.parse(input);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dopamine-calibrate-'));
  bag = join(dir, 'bag.mcap');
  // The wrist views lag the front one by 6 and 12 ms.
  await writeEpisodeMcap(memoryEpisode(), bag, { views: REFERENCE_VIEWS, transport: { left_wrist: 'png' }, stampOffsetMs: (role) => CAMERA_ROLES.indexOf(role) * 6 });
});

describe('calibrate check', () => {
  it('reports per view: frames, rate, sync spread, size; ok for a good recording', async () => {
    const source = await timingsFromMcap(bag, config(), log);
    const report = checkCalibration(config(), source.source, source.timings, source.sync, source.problems);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.views.map((v) => [v.role, v.source, v.frames, v.synced, v.dropped])).toEqual([
      ['front', '/cam_high/image_raw', 20, 20, 0],
      ['left_wrist', '/cam_left_wrist/image_raw/compressed', 20, 20, 0],
      ['right_wrist', '/cam_right_wrist/image_raw', 20, 20, 0],
    ]);
    for (const view of report.views) {
      expect(view.rateHz).toBeCloseTo(10, 6);
      expect(view.maxGapMs).toBeCloseTo(100, 6);
      expect(view.size).toEqual({ width: 40, height: 30 });
    }
    expect(report.sync).toMatchObject({ sets: 20, maxSpreadMs: 12 });
    expect(report.sync!.meanSpreadMs).toBeCloseTo(12, 6);
  });

  it('finds missing views, crops outside the image, camera_info of another size and a tiny workspace', async () => {
    const bad = config({
      cameras: {
        views: [
          { role: 'front', name: 'cam_high', crop: [20, 0, 30, 30], cameraInfo: example },
          { role: 'left_wrist', name: 'cam_gone' },
        ],
      },
      safety: { workspaceMin: [0.3, -0.2, 0.1], workspaceMax: [0.32, 0.2, 0.3] },
    });
    const source = await timingsFromMcap(bag, bad, log);
    const report = checkCalibration(bad, source.source, source.timings, source.sync, source.problems);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      'cam_high: cameras.views crop [20, 0, 30, 30] is outside the 40x30 image',
      `cam_high: camera_info ${example} is for 640x480, the images are 40x30`,
      'cam_gone: no frames from cam_gone',
      'safety.workspace x: extent 0.020 m is below 0.05 m',
    ]);
    expect(report.views[1]!.arrives).toBe(false);
    expect(checkWorkspace(config()).problems).toEqual([]);
  });

  it('runs from the command line on an MCAP file, exit 2 with the problems', () => {
    const ok = runCli(['calibrate', 'check', '--mcap', bag, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as { ok: boolean; views: unknown[] }).views).toHaveLength(3);
    const file = join(dir, 'crop.yaml');
    writeFileSync(file, 'cameras:\n  views:\n    - {role: front, name: cam_high, crop: [0, 0, 64, 30]}\n');
    const bad = runCli(['calibrate', 'check', '--mcap', bag, '--config', file]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toMatch(/front\s+cam_high\s+20\s+10\.0/);
    expect(bad.stderr).toMatch(/calibrate check: 1 problem\(s\): cam_high: cameras\.views crop \[0, 0, 64, 30\] is outside the 40x30 image/);
  });
});
