/**
 * Do the GPU's numbers agree with the CPU's? Reads what `npm run bench:providers` wrote (the same
 * GRM-tiny hops scored on every provider that started, the largest difference from the CPU's) and
 * judges it against a stated tolerance; scripts/gpu-check.sh runs it on a machine with a GPU:
 *
 *   npx tsx engine/provider-agreement.ts <providers.json> [--hop-tolerance 0.01] [--cpu-only-ok]
 *
 * Exit 0 when every GPU provider agrees (and at least one started, unless --cpu-only-ok), else 1.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Largest hop difference from the CPU accepted, in hop units (a hop lies in [-1, 1]): 0.5% of the
 * range. Float32 sums in another order differ in the sixth digit, and TF32 matrix products (10-bit
 * mantissa, where a GPU provider uses them) by about 1e-3 relative: expected well inside it (not
 * yet measured on a GPU), while a provider computing something else lands far outside.
 */
export const HOP_TOLERANCE = 0.01;

interface ProviderCase {
  provider?: unknown;
  'grm-tiny-score'?: { hopMaxDiffFromCpu?: unknown; ms?: { median?: unknown } };
  'sac-update-b256'?: { weightMaxDiffFromCpu?: unknown; ms?: { median?: unknown } };
  'grm-tiny-train-b32'?: { lossMaxDiffFromCpu?: unknown; ms?: { median?: unknown } };
}

export interface AgreementVerdict {
  ok: boolean;
  /** One line per provider, then the verdict. */
  lines: string[];
}

const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const ms = (value: unknown): string => (num(value) === null ? '?' : `${(value as number).toFixed(2)} ms`);
const exp = (value: unknown): string => (num(value) === null ? String(value) : (value as number).toExponential(1));

export function judgeAgreement(result: unknown, options: { hopTolerance?: number; cpuOnlyOk?: boolean } = {}): AgreementVerdict {
  const tolerance = options.hopTolerance ?? HOP_TOLERANCE;
  const data = (result ?? {}) as { cases?: unknown; unavailable?: unknown };
  if (!Array.isArray(data.cases)) return { ok: false, lines: ['expected a bench:providers result with "cases", got none'] };
  const cases = data.cases as ProviderCase[];
  const cpu = cases.find((c) => c.provider === 'cpu');
  const lines: string[] = [];
  let ok = true;
  const gpus = cases.filter((c) => c.provider !== 'cpu');
  for (const c of gpus) {
    const provider = String(c.provider);
    const hop = num(c['grm-tiny-score']?.hopMaxDiffFromCpu);
    const agrees = hop !== null && hop <= tolerance;
    ok &&= agrees;
    lines.push(
      `${agrees ? 'ok  ' : 'FAIL'} ${provider}: GRM-tiny hops differ from the CPU's by <= ${exp(c['grm-tiny-score']?.hopMaxDiffFromCpu)} (tolerance ${tolerance}); ` +
        `score ${ms(c['grm-tiny-score']?.ms?.median)} against ${ms(cpu?.['grm-tiny-score']?.ms?.median)} on the CPU; ` +
        `not judged: SAC weights after the agreement updates differ by ${exp(c['sac-update-b256']?.weightMaxDiffFromCpu)}, training losses by ${exp(c['grm-tiny-train-b32']?.lossMaxDiffFromCpu)}`,
    );
  }
  if (gpus.length === 0) {
    const why = Object.entries((data.unavailable ?? {}) as Record<string, unknown>).map(([p, reason]) => `${p}: ${String(reason)}`);
    ok &&= options.cpuOnlyOk === true;
    lines.push(`${options.cpuOnlyOk ? '--  ' : 'FAIL'} no GPU provider started${why.length > 0 ? ` (${why.join('; ')})` : ''}`);
  }
  lines.push(ok ? 'agreement: ok' : 'agreement: FAILED');
  return { ok, lines };
}

function main(argv: readonly string[]): number {
  const file = argv[0];
  if (file === undefined || file.startsWith('--')) {
    console.error('usage: tsx engine/provider-agreement.ts <providers.json> [--hop-tolerance x] [--cpu-only-ok]');
    return 2;
  }
  const at = argv.indexOf('--hop-tolerance');
  const tolerance = at >= 0 ? Number(argv[at + 1]) : HOP_TOLERANCE;
  if (!(Number.isFinite(tolerance) && tolerance >= 0)) {
    console.error(`--hop-tolerance: expected a number >= 0, got ${JSON.stringify(argv[at + 1] ?? null)}`);
    return 2;
  }
  const verdict = judgeAgreement(JSON.parse(readFileSync(file, 'utf8')), { hopTolerance: tolerance, cpuOnlyOk: argv.includes('--cpu-only-ok') });
  for (const line of verdict.lines) console.log(line);
  return verdict.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
