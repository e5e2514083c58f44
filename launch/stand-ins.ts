/**
 * STAND-INS, labelled as such wherever they appear: a scripted policy and a geometric progress
 * signal. `serve` runs the RL loop with the reward model (serve-agent.ts); these remain for the
 * dashboard and telemetry tests on the kinematic test robot (a drawn marker, no task scene for a
 * reward model to judge, and fast), and as the peer of the serve-loop benchmark. Neither learns nor
 * looks at the images.
 */
import type { ArmAction, Observation } from '../robot/types.js';
import type { ActionSource, ProgressScore, ProgressSource } from './sources.js';
import { seededRandom } from '../common/random.js';

type Vec3 = [number, number, number];

/** A goal point inside the workspace box, fixed per run: 75% along x, 25% along y, 20% up z. */
export function standInGoal(min: Vec3, max: Vec3): Vec3 {
  return [min[0] + 0.75 * (max[0] - min[0]), min[1] + 0.25 * (max[1] - min[1]), min[2] + 0.2 * (max[2] - min[2])];
}

export class ScriptedReachStandIn implements ActionSource {
  readonly label = 'stand-in policy: scripted reach toward a fixed point, with noise (no learner; serve runs the SAC policy unless told to use stand-ins)';
  private readonly random: () => number;

  constructor(
    private readonly goal: Vec3,
    private readonly stepM: number,
    seed = 1,
    /** Noise as a fraction of the step. */
    private readonly noise = 0.6,
  ) {
    this.random = seededRandom(seed);
  }

  next(observation: Observation): ArmAction {
    const p = observation.state.eePosition;
    const d = [this.goal[0] - p[0], this.goal[1] - p[1], this.goal[2] - p[2]];
    const distance = Math.hypot(d[0]!, d[1]!, d[2]!);
    const reach = Math.min(this.stepM, distance);
    const jitter = () => (this.random() * 2 - 1) * this.noise * this.stepM;
    const scale = distance > 1e-9 ? reach / distance : 0;
    return {
      dx: d[0]! * scale + jitter(),
      dy: d[1]! * scale + jitter(),
      dz: d[2]! * scale + jitter(),
      dyaw: (this.random() * 2 - 1) * 0.02,
      gripper: distance < 0.03 ? 1 : 0,
    };
  }
}

export class DistanceProgressStandIn implements ProgressSource {
  readonly label = 'stand-in progress: end-effector distance to a fixed point (not the reward model; serve scores with the GRM unless told to use stand-ins)';
  private startDistance = 1;
  private previous = 0;

  constructor(
    private readonly goal: Vec3,
    private readonly gamma: number,
    /** Artificial answer time, ms, so the asynchronous path is exercised like a real model. */
    private readonly latencyMs = 0,
  ) {}

  beginEpisode(initial: Observation): void {
    this.startDistance = Math.max(1e-6, this.distance(initial));
    this.previous = 0;
  }

  async score(observation: Observation): Promise<ProgressScore> {
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    const progress = Math.min(1, Math.max(0, 1 - this.distance(observation) / this.startDistance));
    const hop = progress - this.previous;
    // Policy-invariant shaping with the progress as potential: gamma * P(s') - P(s).
    const reward = this.gamma * progress - this.previous;
    this.previous = progress;
    return { hop, progress, reward };
  }

  private distance(observation: Observation): number {
    const p = observation.state.eePosition;
    return Math.hypot(this.goal[0] - p[0], this.goal[1] - p[1], this.goal[2] - p[2]);
  }
}
