import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HOP_TOLERANCE, judgeAgreement } from './provider-agreement.js';

/** A bench:providers result as bench/providers.ts writes it, with the given GPU hop differences. */
function result(gpus: Record<string, number>, unavailable: Record<string, string> = {}): unknown {
  const entry = (provider: string, hop: number) => ({
    provider,
    'sac-update-b256': { ms: { median: 40 }, weightMaxDiffFromCpu: hop * 10 },
    'grm-tiny-score': { batch: 3, ms: { median: provider === 'cpu' ? 2.6 : 0.9 }, hopMaxDiffFromCpu: hop },
    'grm-tiny-train-b32': { ms: { median: 43 }, lossMaxDiffFromCpu: hop },
  });
  return { providers: ['cpu', ...Object.keys(gpus)], unavailable, cases: [entry('cpu', 0), ...Object.entries(gpus).map(([p, hop]) => entry(p, hop))] };
}

describe('judgeAgreement', () => {
  it('passes GPU hops within the tolerance of the CPU\'s', () => {
    const verdict = judgeAgreement(result({ cuda: 4e-4 }));
    expect(verdict.ok).toBe(true);
    expect(verdict.lines[0]).toMatch(/^ok {3}cuda: GRM-tiny hops differ from the CPU's by <= 4\.0e-4 \(tolerance 0\.01\); score 0\.90 ms against 2\.60 ms/);
    expect(verdict.lines.at(-1)).toBe('agreement: ok');
  });

  it('fails a provider past the tolerance, even when another agrees', () => {
    const verdict = judgeAgreement(result({ cuda: 1e-5, webgpu: 2 * HOP_TOLERANCE }));
    expect(verdict.ok).toBe(false);
    expect(verdict.lines.filter((l) => l.startsWith('FAIL'))).toEqual([expect.stringMatching(/^FAIL webgpu: /)]);
    expect(judgeAgreement(result({ cuda: 0.03 }), { hopTolerance: 0.05 }).ok).toBe(true);
  });

  it('fails a hop difference that is not a number (NaN from the GPU)', () => {
    const broken = result({ cuda: 0 }) as { cases: { 'grm-tiny-score': { hopMaxDiffFromCpu: unknown } }[] };
    broken.cases[1]!['grm-tiny-score'].hopMaxDiffFromCpu = null;
    expect(judgeAgreement(broken).ok).toBe(false);
  });

  it('fails when no GPU provider started, naming why, unless CPU-only is accepted', () => {
    const cpuOnly = result({}, { cuda: 'engine.executionProvider: expected an available CUDA execution provider, got none (x)' });
    const verdict = judgeAgreement(cpuOnly);
    expect(verdict.ok).toBe(false);
    expect(verdict.lines[0]).toMatch(/^FAIL no GPU provider started \(cuda: .*got none \(x\)\)$/);
    expect(judgeAgreement(cpuOnly, { cpuOnlyOk: true }).ok).toBe(true);
    expect(judgeAgreement({ nothing: true }).ok).toBe(false);
  });

  it('runs as a script: exit 0 / 1 with its lines on stdout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agreement-'));
    const good = join(dir, 'good.json');
    const bad = join(dir, 'bad.json');
    writeFileSync(good, JSON.stringify(result({ cuda: 1e-4 })));
    writeFileSync(bad, JSON.stringify(result({ cuda: 0.5 })));
    const script = fileURLToPath(new URL('./provider-agreement.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../node_modules/tsx/dist/cli.mjs', import.meta.url));
    const run = (...args: string[]) => spawnSync(process.execPath, [tsx, script, ...args], { encoding: 'utf8' });
    const ok = run(good);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('agreement: ok');
    const failed = run(bad);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain('FAIL cuda');
    expect(run(bad, '--hop-tolerance', '1').status).toBe(0);
    expect(run(good, '--hop-tolerance', 'x').status).toBe(2);
  });
});

describe('scripts/gpu-check.sh', () => {
  it('parses as bash', () => {
    const script = fileURLToPath(new URL('../scripts/gpu-check.sh', import.meta.url));
    const run = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
  });
});
