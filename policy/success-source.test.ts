import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chooseSuccess, JUDGE_AUDITS } from './success-source.js';

describe('the success source of dopamine rl on the simulator', () => {
  it('keeps the audit figures equal to the committed results they come from', () => {
    const grm = JSON.parse(readFileSync('bench/results/grm-audit.json', 'utf8')) as { claimedSuccesses: number; confirmed: number };
    const serve = JSON.parse(readFileSync('bench/results/serve-learning-model-judge.json', 'utf8')) as { runs: { interventions: string; claimedSuccesses: number; confirmedClaims: number }[] };
    const alone = serve.runs.find((r) => r.interventions === 'none')!;
    expect(JUDGE_AUDITS.map((a) => [a.file, a.claimed, a.confirmed])).toEqual([
      ['bench/results/grm-audit.json', grm.claimedSuccesses, grm.confirmed],
      ['bench/results/serve-learning-model-judge.json', alone.claimedSuccesses, alone.confirmedClaims],
    ]);
  });

  it('takes the flag, then the configured one, then on the simulator the audits: the simulator while one audit falls short', () => {
    const sim = { simulator: true };
    expect(chooseSuccess('progress', 'env', sim)).toMatchObject({ success: 'progress', line: expect.stringMatching(/--success progress/) as unknown });
    expect(chooseSuccess(undefined, 'progress', sim)).toMatchObject({ success: 'progress', line: expect.stringMatching(/reward\.shaping\.success/) as unknown });
    const audited = chooseSuccess(undefined, undefined, sim);
    expect(audited.success).toBe('env');
    expect(audited.line).toMatch(/^success: the simulator's predicate .*only 14 of the 308 successes it claimed in bench:serve-learning/);
    const trusted = [{ name: 'a', file: 'a.json', claimed: 40, confirmed: 39 }];
    expect(chooseSuccess(undefined, undefined, sim, trusted).success).toBe('progress');
    expect(chooseSuccess(undefined, undefined, sim, [...trusted, { name: 'b', file: 'b.json', claimed: 20, confirmed: 18 }]).success).toBe('env');
    // A lab arm has no predicate: the model judges unless the operator is chosen, and the line says its audits fall short.
    const lab = chooseSuccess(undefined, undefined, { simulator: false });
    expect(lab.success).toBe('progress');
    expect(lab.line).toMatch(/a lab arm's default; its audits fall short .*reward\.shaping\.success: operator/);
  });
});
