/**
 * The run as Prometheus metrics (`GET /metrics` on the dashboard's port, behind the same token, as
 * a Prometheus scrape sends it: `authorization: Bearer <token>`). Totals the run loop keeps (steps,
 * deadlines, reward-model answers, learner updates) are read from its snapshot at scrape time;
 * what only happens as an event (episodes by outcome, e-stops, interventions) is counted as it
 * happens, from the dashboard's start. One registry per dashboard: nothing global.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { RunLoop } from '../launch/run-loop.js';
import type { EventStream } from '../robot/events.js';

export interface RunMetrics {
  readonly contentType: string;
  /** The exposition text of every metric, as of now. */
  text(): Promise<string>;
  /** Stops counting events (the dashboard closed). */
  close(): void;
}

/**
 * A metric whose value is read at scrape time: a counter for a total kept elsewhere (set by reset
 * and inc, as prom-client counters only rise), a gauge for a level. Nothing is shown while unknown.
 */
function readAtScrape(registry: Registry, kind: 'counter' | 'gauge', name: string, help: string, read: () => number | null | undefined): void {
  const value = (): number | null => {
    const v = read();
    return v === null || v === undefined || !Number.isFinite(v) ? null : v;
  };
  if (kind === 'counter') {
    new Counter({ name, help, registers: [registry], collect() { this.reset(); const v = value(); if (v !== null && v > 0) this.inc(v); } });
  } else {
    new Gauge({ name, help, registers: [registry], collect() { this.reset(); const v = value(); if (v !== null) this.set(v); } });
  }
}
const totalFrom = (registry: Registry, name: string, help: string, read: () => number | null): void => readAtScrape(registry, 'counter', name, help, read);
const gaugeFrom = (registry: Registry, name: string, help: string, read: () => number | null | undefined): void => readAtScrape(registry, 'gauge', name, help, read);

export function runMetrics(loop: RunLoop, events: EventStream): RunMetrics {
  const registry = new Registry();
  // One snapshot serves every metric of a scrape (it copies the run's history): taken as the scrape begins.
  let current: ReturnType<RunLoop['snapshot']> | null = null;
  const snapshot = (): ReturnType<RunLoop['snapshot']> => (current ??= loop.snapshot());
  const seconds = (ms: number | null | undefined): number | null => (ms === null || ms === undefined ? null : ms / 1000);

  totalFrom(registry, 'dopamine_control_steps_total', 'Control steps the run loop made.', () => snapshot().deadlines.steps);
  totalFrom(registry, 'dopamine_control_deadline_misses_total', 'Control steps that took longer than the control period.', () => snapshot().deadlines.missed);
  gaugeFrom(registry, 'dopamine_control_period_seconds', 'Mean time between step starts within an episode, recent steps.', () => seconds(snapshot().control.periodMeanMs));
  gaugeFrom(registry, 'dopamine_control_period_p95_seconds', '95th percentile of the time between step starts, recent steps.', () => seconds(snapshot().control.periodP95Ms));

  totalFrom(registry, 'dopamine_reward_answers_total', 'Observations the reward model scored.', () => snapshot().reward.answered);
  totalFrom(registry, 'dopamine_reward_errors_total', 'Reward-model requests that failed.', () => snapshot().reward.errors);
  totalFrom(registry, 'dopamine_reward_skipped_total', 'Observations not scored while the model was busy.', () => snapshot().reward.skipped);
  gaugeFrom(registry, 'dopamine_reward_latency_seconds', 'Mean reward-model latency, recent answers.', () => seconds(snapshot().reward.meanMs));
  gaugeFrom(registry, 'dopamine_reward_latency_p95_seconds', '95th percentile of the reward-model latency, recent answers.', () => seconds(snapshot().reward.p95Ms));

  totalFrom(registry, 'dopamine_learner_updates_total', 'Gradient updates of the learner (a resumed run counts its checkpoint\'s).', () => snapshot().learner?.updates ?? null);
  totalFrom(registry, 'dopamine_learner_dropped_updates_total', 'Owed updates given up because the learner fell behind.', () => snapshot().learner?.dropped ?? null);
  totalFrom(registry, 'dopamine_learner_episodes_total', 'Episodes handed to the learner.', () => snapshot().learner?.episodes ?? null);
  gaugeFrom(registry, 'dopamine_learner_critic_loss', 'Critic loss of the recent updates.', () => snapshot().learner?.recent?.criticLoss);
  gaugeFrom(registry, 'dopamine_learner_actor_loss', 'Actor loss of the recent updates.', () => snapshot().learner?.recent?.actorLoss);
  gaugeFrom(registry, 'dopamine_learner_entropy', 'Policy entropy of the recent updates.', () => snapshot().learner?.recent?.entropy);
  gaugeFrom(registry, 'dopamine_learner_updates_per_second', 'Learner updates per second of wall time, recently.', () => snapshot().learner?.updatesPerSecond);

  totalFrom(registry, 'dopamine_rollouts_total', 'Episodes that ran to a judgement (the run folder\'s, across restarts).', () => snapshot().rollouts);
  gaugeFrom(registry, 'dopamine_intervention_active', '1 while the operator has the arm.', () => (snapshot().intervention ? 1 : 0));
  gaugeFrom(registry, 'dopamine_estopped', '1 while the e-stop is latched.', () => (snapshot().estopped ? 1 : 0));

  const episodes = new Counter({ name: 'dopamine_episodes_total', help: 'Episodes ended since the dashboard started, by outcome.', labelNames: ['outcome'], registers: [registry] });
  const interventionSteps = new Counter({ name: 'dopamine_intervention_steps_total', help: 'Control steps the operator drove, since the dashboard started.', registers: [registry] });
  const interventions = new Counter({ name: 'dopamine_interventions_total', help: 'Interventions the operator started, since the dashboard started.', registers: [registry] });
  const estops = new Counter({ name: 'dopamine_estops_total', help: 'E-stop requests (each latches, or finds it latched), since the dashboard started.', registers: [registry] });
  const stopUpdates = loop.onUpdate((update) => {
    if (update.type === 'episode') {
      episodes.inc({ outcome: update.summary.outcome });
      interventionSteps.inc(update.summary.interventionSteps);
    } else if (update.type === 'intervention' && update.active) {
      interventions.inc();
    }
  });
  const stopEvents = events.subscribe((event) => {
    if (event.kind === 'estop') estops.inc();
  });
  return {
    contentType: registry.contentType,
    text: async () => {
      current = loop.snapshot();
      try {
        return await registry.metrics();
      } finally {
        current = null;
      }
    },
    close() {
      stopUpdates();
      stopEvents();
    },
  };
}
