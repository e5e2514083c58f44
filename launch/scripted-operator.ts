/**
 * A stand-in for the person at the dashboard, on the simulator only (issue 33): when the fused
 * progress of an episode stalls, the scripted expert takes over for a few seconds, speaking the
 * same teleop commands over the same path a person's keyboard or SpaceMouse would (RunLoop
 * setIntervention / teleop, through the safety layer), then hands the arm back. It lets
 * interventions be measured without a person (bench:serve-learning).
 */
import type { Logger } from '../common/log.js';
import { ScriptedExpert } from '../robot/sim/expert.js';
import type { SimWorld } from '../robot/sim/world.js';
import type { RunLoop, RunUpdate } from './run-loop.js';
import { actionAsTeleop } from './teleop.js';

export interface ScriptedOperatorOptions {
  /** Control steps without a new best fused progress (by at least minRise) before the expert takes over. */
  stallSteps: number;
  /** Control steps the expert keeps the arm once it took over (it hands back earlier when its plan is done). */
  takeoverSteps: number;
  /** A rise of the episode's best progress smaller than this is not progress. */
  minRise: number;
  seed: number;
}

export const SCRIPTED_OPERATOR_DEFAULTS: Omit<ScriptedOperatorOptions, 'seed'> = { stallSteps: 40, takeoverSteps: 40, minRise: 0.05 };

/** Where the control steps, scores and episode boundaries come from, and where teleop goes. */
type OperatorLoop = Pick<RunLoop, 'onUpdate' | 'setIntervention' | 'teleop' | 'interventionActive'>;

export class ScriptedOperator {
  readonly source = 'scripted operator';
  private best = -Infinity;
  private stepsSinceRise = 0;
  private expert: ScriptedExpert | null = null;
  private stepsLeft = 0;
  private episode = 0;
  private takeovers = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly loop: OperatorLoop,
    private readonly world: SimWorld,
    private readonly controlHz: number,
    private readonly options: ScriptedOperatorOptions,
    private readonly log: Logger,
  ) {
    this.unsubscribe = loop.onUpdate((update) => this.onUpdate(update));
  }

  /** Takeovers so far. */
  get count(): number {
    return this.takeovers;
  }

  close(): void {
    this.unsubscribe();
  }

  private onUpdate(update: RunUpdate): void {
    if (update.type === 'episode-start') {
      this.episode = update.episode;
      this.best = -Infinity;
      this.stepsSinceRise = 0;
      this.handBack();
    } else if (update.type === 'episode') {
      this.handBack();
    } else if (update.type === 'progress' && update.point.episode === this.episode) {
      if (update.point.progress >= this.best + this.options.minRise) {
        this.best = update.point.progress;
        this.stepsSinceRise = 0;
      }
    } else if (update.type === 'step' && update.episode === this.episode && update.held === null) {
      this.afterStep();
    } else if (update.type === 'intervention' && !update.active && update.source !== this.source) {
      this.expert = null; // someone else ended it (a person, an e-stop)
    }
  }

  private afterStep(): void {
    if (this.expert) {
      const command = this.stepsLeft-- > 0 ? this.expert.next() : undefined;
      if (command === undefined || !this.loop.interventionActive) {
        this.handBack();
        return;
      }
      this.loop.teleop(actionAsTeleop(command, this.controlHz));
      return;
    }
    if (this.loop.interventionActive) return; // a person has the arm
    if (++this.stepsSinceRise < this.options.stallSteps) return;
    // Stalled: the expert plans from the scene as it is now, with a clean hand.
    this.expert = new ScriptedExpert(this.world, { noise: 0, seed: this.options.seed + this.takeovers });
    this.stepsLeft = this.options.takeoverSteps;
    if (!this.loop.setIntervention(true, this.source)) {
      this.expert = null;
      return;
    }
    this.takeovers++;
    this.log.info(`progress stalled for ${this.options.stallSteps} steps in episode ${this.episode}: the scripted operator takes over`);
    // Its first command at once, for the next control step.
    this.afterStep();
  }

  private handBack(): void {
    this.stepsSinceRise = 0;
    if (!this.expert) return;
    this.expert = null;
    if (this.loop.interventionActive) this.loop.setIntervention(false, this.source);
  }
}
