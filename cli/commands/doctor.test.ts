import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { providerStatuses } from '../../engine/provider-check.js';
import type { RawImage } from '../../perception/images.js';
import { DEFAULT_GRM_TINY } from '../../reward/grm-tiny/paths.js';
import { writeReferences } from '../../reward/task-references.js';
import { runCliAsync } from '../testing.js';

interface Report {
  ok: boolean;
  executionProvider: string | null;
  checks: { name: string; ok: boolean; required: boolean; detail: string }[];
  problems: string[];
  rewardModel: { backend: string; where: string; adapted: boolean; task: { instruction: string; source: string } | null };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
});

/** A server holding a port on 127.0.0.1 until the test ends. */
async function takenPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((done) => server.listen({ host: '127.0.0.1', port: 0 }, done));
  return (server.address() as { port: number }).port;
}

/** A port free a moment ago (nothing of this test holds it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen({ host: '127.0.0.1', port: 0 }, done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/** A configuration file in a fresh folder, its run folder inside that folder. */
function configFile(config: Record<string, unknown>): { file: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'doctor-'));
  const file = join(dir, 'lab.yaml');
  const policy = { runDir: join(dir, 'runs'), ...((config.policy as object | undefined) ?? {}) };
  writeFileSync(file, stringify({ ...config, policy }));
  return { file, dir };
}

async function doctor(config: Record<string, unknown>, json = true): Promise<{ code: number; stdout: string; stderr: string; errors: string[] }> {
  const { file } = configFile(config);
  const run = await runCliAsync(['doctor', '--config', file, ...(json ? ['--json'] : [])]);
  // stderr also carries native warnings (the WebGPU probe's Vulkan loader): the errors are the `error:` lines.
  return { ...run, errors: run.stderr.split('\n').filter((line) => line.startsWith('error:')) };
}

const check = (report: Report, name: string) => report.checks.find((c) => c.name === name);

describe('dopamine doctor', () => {
  it('reports every part and exits 0 on a set-up that can run here', async () => {
    const port = await freePort();
    const run = await doctor({ dashboard: { port } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.errors).toEqual([]);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.ok).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.checks.map((c) => c.name)).toEqual([
      'node', 'ffmpeg', 'ros2', 'cpu', 'cuda', 'webgpu', 'engine.executionProvider', 'reward.model', 'policy.encoder.model', 'dashboard.port', 'policy.runDir',
    ]);
    for (const c of report.checks) {
      expect(typeof c.ok).toBe('boolean');
      expect(c.detail.length, c.name).toBeGreaterThan(0);
    }
    // auto: CUDA when its provider starts here, else the CPU (WebGPU only when named).
    const cuda = check(report, 'cuda')!;
    expect(report.executionProvider).toBe(cuda.ok ? 'cuda' : 'cpu');
    if (!cuda.ok) expect(cuda.detail).toMatch(/^not available: \S/);
    expect(check(report, 'cpu')!.ok).toBe(true);
    expect(check(report, 'webgpu')!.detail).toMatch(/^(adapter found|no adapter: \S)/);
    // The simulator needs no ROS 2: its absence is reported, not a problem.
    expect(check(report, 'ros2')!.required).toBe(false);
    expect(check(report, 'dashboard.port')!.detail).toBe(`${port} on 127.0.0.1 is free`);
    expect(check(report, 'policy.runDir')!.detail).toMatch(/runs: not there yet; .* is writable, serve creates it$/);
    expect(report.rewardModel).toEqual({ backend: 'onnx', where: 'models/grm-tiny.onnx', adapted: false, task: null });
  });

  it('prints one line per check and the verdict without --json', async () => {
    const run = await doctor({ dashboard: { port: 0 } }, false);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ok {3}node +v\d+\.\d+\.\d+ \(the package needs >=20\.19\)$/);
    expect(lines.find((l) => /^(ok |-- ) {2}cuda /.test(l))).toBeDefined();
    expect(lines.at(-1)).toMatch(/^the configured set-up can run here; the models run on (cpu|cuda)$/);
  });

  it('exits 2 naming a port that is taken', async () => {
    const port = await takenPort();
    const run = await doctor({ dashboard: { port } });
    expect(run.code).toBe(2);
    expect(run.errors).toEqual([`error: dashboard.port: expected a free port, got ${port} (in use)`]);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([`dashboard.port: expected a free port, got ${port} (in use)`]);
    expect(check(report, 'dashboard.port')).toMatchObject({ ok: false, required: true });
  });

  it('exits 2 with one line per problem: a missing model and a taken Foxglove port', async () => {
    const foxglovePort = await takenPort();
    const missing = join(tmpdir(), 'no-such-dir-doctor', 'm.onnx');
    const run = await doctor({ dashboard: { port: 0, foxglovePort }, reward: { model: missing } }, false);
    expect(run.code).toBe(2);
    expect(run.errors).toEqual([
      `error: reward.model: expected an ONNX reward model file, got ${JSON.stringify(missing.length > 40 ? `${missing.slice(0, 37)}...` : missing)} (no such file)`,
      `error: dashboard.foxglovePort: expected a free port, got ${foxglovePort} (in use)`,
    ]);
    expect(run.stdout).toMatch(/^FAIL reward\.model /m);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('the configured set-up cannot run here: 2 problems');
  });

  it('names the adapted model\'s task', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'doctor-model-'));
    const model = join(dir, 'drawer.onnx');
    copyFileSync(DEFAULT_GRM_TINY, model);
    const image: RawImage = { width: 8, height: 6, rgb: new Uint8Array(8 * 6 * 3).fill(90) };
    const views = { front: image, left_wrist: image, right_wrist: image };
    await writeReferences(model, { instructions: ['open the drawer'], source: '/data/demo_7', startFrame: 0, goalFrame: 40, roles: ['front'] }, views, views);
    const run = await doctor({ dashboard: { port: 0 }, reward: { model } });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.rewardModel).toMatchObject({ backend: 'onnx', adapted: true, task: { instruction: 'open the drawer', source: '/data/demo_7' } });
    expect(check(report, 'reward.model')!.detail).toMatch(/; adapted for "open the drawer" \(from \/data\/demo_7\)$/);
  });

  it('on a lab arm needs ROS 2 and a model adapted to the task', async () => {
    const run = await doctor({ robot: { backend: 'ros2' }, dashboard: { port: 0 } });
    const report = JSON.parse(run.stdout) as Report;
    expect(check(report, 'ros2')!.required).toBe(true);
    // The shipped GRM-tiny has no task references: serve would refuse it on a lab arm.
    expect(check(report, 'reward.model')).toMatchObject({ ok: false, required: true });
    expect(run.errors).toContain('error: reward.model: expected an adapted model with task references on a lab arm (dopamine adapt <demo> --out m.onnx), got models/grm-tiny.onnx without references');
    expect(run.code).toBe(2);
    if (!check(report, 'ros2')!.ok) expect(run.errors.some((e) => e.startsWith('error: ros2: '))).toBe(true);
  });

  it('exits 2 when a named provider cannot start here', async () => {
    const cudaHere = (await providerStatuses()).find((s) => s.provider === 'cuda')!.available;
    const run = await doctor({ dashboard: { port: 0 }, engine: { executionProvider: 'cuda' } });
    const report = JSON.parse(run.stdout) as Report;
    expect(run.code).toBe(cudaHere ? 0 : 2);
    expect(report.executionProvider).toBe(cudaHere ? 'cuda' : null);
    if (!cudaHere) expect(run.errors).toEqual([expect.stringMatching(/^error: engine\.executionProvider: expected an available CUDA execution provider, got none \(.+\); see docs\/gpu\.md$/)]);
  });
});
