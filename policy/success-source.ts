/**
 * Where `dopamine rl` and `serve` take success from when neither `--success` nor the configuration
 * chose (issue 34): on the simulator, the reward model's own "done" only if every committed audit of
 * it confirmed at least 95% of the successes it claimed (a success judged by the model is only as
 * good as its worst false positive); otherwise the simulator's predicate, the operator's key.
 * The audits are the committed benchmark results; a test keeps these figures equal to them.
 */
export interface JudgeAudit {
  /** The benchmark and its set-up. */
  name: string;
  /** The committed result it comes from. */
  file: string;
  claimed: number;
  confirmed: number;
}

export const JUDGE_AUDITS: readonly JudgeAudit[] = [
  { name: 'bench:grm-audit (pick-place, the adapted GRM-tiny judging a policy on the exact state)', file: 'bench/results/grm-audit.json', claimed: 23, confirmed: 23 },
  { name: 'bench:serve-learning (push-cube, serve with the model as judge, no operator)', file: 'bench/results/serve-learning-model-judge.json', claimed: 308, confirmed: 14 },
];

/** Share of claimed successes that must be real, in every audit, for the model to judge success by default. */
export const TRUSTED_PRECISION = 0.95;

export type SuccessChoice = 'progress' | 'env' | 'operator';

export interface SuccessSource {
  success: SuccessChoice;
  /** One line: where success comes from, and why. */
  line: string;
}

const NAMES: Record<SuccessChoice, string> = {
  progress: "the reward model's judgement (fused progress held near 1)",
  env: "the simulator's predicate (the operator's key)",
  operator: 'the operator at the terminal',
};

/**
 * The success source of a run: the flag, else the configured one, else on the simulator the audits'
 * verdict; a lab arm has no predicate, so there the model judges unless the operator is chosen.
 */
export function chooseSuccess(
  flag: SuccessChoice | undefined,
  configured: SuccessChoice | undefined,
  where: { simulator: boolean },
  audits: readonly JudgeAudit[] = JUDGE_AUDITS,
): SuccessSource {
  if (flag !== undefined) return { success: flag, line: `success: ${NAMES[flag]} (--success ${flag})` };
  if (configured !== undefined) return { success: configured, line: `success: ${NAMES[configured]} (reward.shaping.success)` };
  const worst = [...audits].sort((a, b) => a.confirmed / a.claimed - b.confirmed / b.claimed)[0];
  const trusted = !worst || worst.confirmed / worst.claimed >= TRUSTED_PRECISION;
  const audit = worst ? `${worst.confirmed} of the ${worst.claimed} successes it claimed in ${worst.name} were real (${worst.file})` : '';
  if (!where.simulator) {
    return {
      success: 'progress',
      line: `success: ${NAMES.progress}, a lab arm's default${trusted ? '' : `; its audits fall short (${audit}): reward.shaping.success: operator lets a person judge`}`,
    };
  }
  if (!trusted) {
    return {
      success: 'env',
      line: `success: ${NAMES.env}, not the reward model's judgement: only ${audit}; trusted from ${Math.round(TRUSTED_PRECISION * 100)}%; --success progress or reward.shaping.success: progress to use it anyway`,
    };
  }
  return { success: 'progress', line: `success: ${NAMES.progress}, confirmed >= ${Math.round(TRUSTED_PRECISION * 100)}% in every audit (${audits.map((a) => a.file).join(', ')})` };
}
