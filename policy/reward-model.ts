/**
 * The project's reward model (an ONNX GRM such as GRM-tiny, adapted to the task with
 * `dopamine adapt`) as the RL loop's RewardScorer: each new state costs one batched call of three
 * hops (incremental, from START, from GOAL), fused by the reward core. START is the episode's own
 * first frame; GOAL and the instruction come from the task references beside an adapted model,
 * else from the caller (a clean expert episode's last frame and the task's instruction).
 */
import type { FusionOptions } from '../reward/fusion.js';
import type { RewardModel, TaskReferences } from '../reward/model.js';
import { predictFusedStep } from '../reward/model.js';
import type { ViewSet } from '../perception/images.js';
import type { Observation } from '../robot/types.js';
import { fusedProgressScorer } from './fused-scorer.js';
import type { RewardScorer } from './scorer.js';

/** The cameras of an observation as the reward model's views. */
export function viewsOf(observation: Observation): ViewSet {
  const byRole = (role: string): Observation['frames'][number] | undefined => observation.frames.find((f) => f.role === role);
  const front = byRole('front');
  if (!front) throw new Error('reward model: the observation has no front camera frame (cameras must be rendered)');
  return { front, left_wrist: byRole('left_wrist'), right_wrist: byRole('right_wrist') };
}

export function rewardModelScorer(model: RewardModel, references: { instruction: string; goal: ViewSet }, fusion: FusionOptions = {}): RewardScorer {
  return fusedProgressScorer(
    {
      name: model.name,
      async fusedHops(previous, current, first) {
        const task: TaskReferences = { instruction: references.instruction, start: viewsOf(first), goal: references.goal };
        const { incremental, fromStart, fromGoal } = await predictFusedStep(model, task, viewsOf(previous), viewsOf(current));
        return { incremental, fromStart, fromGoal };
      },
    },
    fusion,
  );
}
