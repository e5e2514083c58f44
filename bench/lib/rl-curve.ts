/**
 * Learning-speed figures of one success curve (bench/rl.ts), besides the final rate: two arms can
 * end level while one gets there in half the rollouts, which is what reward shaping is for.
 */
export interface CurvePoint {
  rollouts: number;
  success: number;
}

export interface CurveFigures {
  /** Mean success over the evaluation points after the start (rollouts > 0): the area under the curve per point. */
  meanSuccess: number | null;
  /**
   * The paper's "rollouts to 80% of final" (Robo-Dopamine, table of RL results): the first point
   * after the start whose success is at least 0.8 x the last point's; null when the curve ends at 0
   * or has no point after the start.
   */
  rolloutsTo80OfFinal: number | null;
}

export function curveFigures(curve: readonly CurvePoint[]): CurveFigures {
  const trained = curve.filter((p) => p.rollouts > 0);
  const final = trained.at(-1)?.success ?? 0;
  return {
    meanSuccess: trained.length === 0 ? null : trained.reduce((sum, p) => sum + p.success, 0) / trained.length,
    rolloutsTo80OfFinal: final > 0 ? (trained.find((p) => p.success >= 0.8 * final)?.rollouts ?? null) : null,
  };
}
