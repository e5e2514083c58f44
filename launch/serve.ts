/**
 * Composes a run for `dopamine serve` (and the soak benchmark): robot from the factory, the
 * safety layer around it, the action and progress sources, the run loop, the dashboard and,
 * when enabled, MQTT telemetry. shutdown() brings the arm to a safe stop before closing.
 */
import { systemClock, type Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import { resolveDashboardToken, resolveMqttConnection } from '../config/secrets.js';
import { checkBindAddress, startDashboard, type Dashboard } from '../dashboard/server.js';
import { startFoxglove, type FoxgloveLive } from '../dashboard/foxglove.js';
import { RecordedFrames } from '../dashboard/recorded-frames.js';
import { startTelemetry, type Telemetry } from '../dashboard/telemetry.js';
import { EventStream } from '../robot/events.js';
import { createRobot } from '../robot/factory.js';
import { SafeRobot } from '../robot/safety.js';
import { chooseSuccess } from '../policy/success-source.js';
import type { Robot } from '../robot/types.js';
import type { Ros2TeleopEvent } from '../robot/ros2/robot.js';
import { join } from 'node:path';
import { NEW_RUN_COUNTS, RunLoop, type EpisodeSummary } from './run-loop.js';
import { EpisodeRecorder } from './episode-recorder.js';
import { ServeAgent } from './serve-agent.js';
import { openServeReward } from './serve-reward.js';
import type { ActionSource, LearnerStatus, ProgressSource } from './sources.js';
import { DistanceProgressStandIn, ScriptedReachStandIn, standInGoal } from './stand-ins.js';
import { SCRIPTED_OPERATOR_DEFAULTS, ScriptedOperator } from './scripted-operator.js';
import { InputError } from '../common/errors.js';
import type { SimWorld } from '../robot/sim/world.js';

export interface ServeParts {
  robot?: Robot;
  actions?: ActionSource;
  progress?: ProgressSource;
  clock?: Clock;
  /** Start the run right away (default: on the simulator only; a lab arm waits for the operator). */
  autoStart?: boolean;
  /**
   * rl (default): the SAC actor and learner with the configured reward model. stand-in: the
   * labelled scripted policy and geometric progress (tests of the dashboard on the kinematic test
   * robot, which draws a marker and no task scene for a reward model to judge).
   */
  agent?: 'rl' | 'stand-in';
}

export interface Serving {
  config: Config;
  events: EventStream;
  robot: SafeRobot;
  loop: RunLoop;
  /** The RL loop's actor, reward model and learner (null with stand-ins or given sources). */
  agent: ServeAgent | null;
  dashboard: Dashboard;
  /** Where the control token came from: a configuration key, or null for a random one. */
  tokenSource: string | null;
  telemetry: Telemetry | null;
  /** The Foxglove WebSocket server (null unless dashboard.foxglovePort is set). */
  foxglove: FoxgloveLive | null;
  /** E-stops the arm (robot.stop), then closes loop, telemetry, dashboard and robot. */
  shutdown(reason: string): Promise<void>;
}

export async function startServing(given: Config, log: Logger, parts: ServeParts = {}): Promise<Serving> {
  // Refused before anything starts: plain HTTP on the lab network would expose the token.
  checkBindAddress(given.dashboard.host, given.dashboard.tls !== undefined, given.dashboard.insecure);
  const clock = parts.clock ?? systemClock;
  // Secrets first: a missing token file or password variable is refused before the arm is touched.
  const token = resolveDashboardToken(given.dashboard);
  const broker = given.mqtt.enabled ? resolveMqttConnection(given.mqtt) : null;
  const events = new EventStream(clock);
  // What has been opened, closed newest first if the start fails: a timer, socket or client left
  // open behind the error would keep the process alive.
  const opened: { name: string; close: () => Promise<void> }[] = [];
  try {
    const inner = parts.robot ?? (await createRobot(given, log.child('robot')));
    // Who judges success, said once: on the simulator its predicate unless the model's audits trust
    // the model (a test robot without a scene is not the simulator); every part below reads it.
    const judge = chooseSuccess(undefined, given.reward.shaping.success, { simulator: simWorldOf(inner) !== null });
    log.info(judge.line);
    const config: Config = { ...given, reward: { ...given.reward, shaping: { ...given.reward.shaping, success: judge.success } } };
    const robot = new SafeRobot(inner, config.safety, { clock, events, log: log.child('safety') });
    opened.push({ name: 'robot', close: () => robot.close() });
    robot.startWatchdog();

    // A lab arm keeps the control clock; the simulator goes as fast as it can unless told otherwise.
    const paced = config.robot.backend !== 'sim' || config.robot.sim.realtime;
    let agent: ServeAgent | null = null;
    if ((parts.agent ?? 'rl') === 'rl' && !parts.actions && !parts.progress) {
      const reward = await openServeReward(config, log.child('reward'));
      try {
        agent = await ServeAgent.create({ config, model: reward.model, references: reward.references, runDir: join(config.policy.runDir, 'serve'), log: log.child('learner'), paced });
      } catch (error) {
        await reward.model.close();
        throw error;
      }
      const created = agent;
      opened.push({ name: 'learner', close: () => created.close() });
      for (const p of agent.rejectedCheckpoints) events.emit('checkpoint', `checkpoint ${p.checkpoint} rejected: ${p.problem}; the learner resumed from an older one`, 'serve');
    }
    const goal = standInGoal(config.safety.workspaceMin, config.safety.workspaceMax);
    const actions = parts.actions ?? agent?.actions ?? new ScriptedReachStandIn(goal, config.safety.maxStepM * 0.15, config.policy.seed, 1.5);
    const progress = parts.progress ?? agent?.progress ?? new DistanceProgressStandIn(goal, config.reward.shaping.gamma, 15);
    for (const source of [actions.label, progress.label]) {
      if (source.startsWith('stand-in')) log.warn(source);
    }

    // A resumed learner continues the run's episode numbering and success rate too.
    const counts = agent?.resumedCounts ?? NEW_RUN_COUNTS;
    if (counts.nextEpisode > 1) log.info(`run continues at episode ${counts.nextEpisode}: ${counts.successes} successes in ${counts.rollouts} rollouts logged in ${join(config.policy.runDir, 'serve')}`);
    // Every episode of the RL loop as MCAP in the run folder (the dashboard's replay reads it back).
    const recorder = agent && config.policy.serve.record
      ? new EpisodeRecorder({ folder: join(config.policy.runDir, 'serve', 'episodes'), config, instruction: agent.references.instruction, log: log.child('recorder') })
      : null;
    if (recorder) opened.push({ name: 'episode recorder', close: () => recorder.close() });
    const recordedFrames = recorder ? new RecordedFrames({ folder: join(config.policy.runDir, 'serve', 'episodes'), config }) : null;
    if (recordedFrames) opened.push({ name: 'recorded frames', close: () => recordedFrames.close() });
    const loop = new RunLoop({
      robot,
      actions,
      progress,
      events,
      clock,
      log: log.child('loop'),
      episodeSteps: Math.max(1, Math.round(config.robot.episodeSeconds * config.robot.controlHz)),
      successJudge: judge.success,
      successDelta: config.reward.shaping.successDelta,
      successWindow: config.reward.shaping.successWindow,
      seed: config.robot.sim.seed,
      scoreEvery: agent ? config.policy.serve.scoreEvery : 1,
      counts,
      paced,
      history: agent?.resumedHistory ?? [],
      ...(recorder ? { recorder } : {}),
    });
    opened.push({ name: 'run loop', close: () => loop.close() });
    if (config.policy.serve.operator === 'scripted') {
      const world = simWorldOf(inner);
      if (!world) throw new InputError('policy.serve.operator', `expected "none" with robot.backend ${config.robot.backend}, got "scripted" (the scripted operator is the simulator's expert)`);
      const operator = new ScriptedOperator(loop, world, config.robot.controlHz, { ...SCRIPTED_OPERATOR_DEFAULTS, seed: config.policy.seed + 1_000 }, log.child('operator'));
      opened.push({ name: 'scripted operator', close: async () => operator.close() });
    }
    // One line per episode on stderr, as `dopamine rl` logs its rollouts.
    const episodeLog = log.child('episode');
    loop.onUpdate((update) => {
      if (update.type === 'episode') episodeLog.info(episodeLine(update.summary, update.rollouts, update.successRate, loop.snapshot().learner));
    });
    // A robot with stop requests of its own (the ROS 2 bridge: <prefix>/estop) latches the e-stop like the dashboard.
    const stopper = inner as Partial<{ onStopRequest(listener: (reason: string) => void): () => void }>;
    if (typeof stopper.onStopRequest === 'function') stopper.onStopRequest((reason) => void loop.estop('ros2', reason));
    // A robot with a teleop device of its own (the ROS 2 bridge: robot.ros2.teleop) intervenes like the dashboard.
    const teleoperated = inner as Partial<{ onTeleop(listener: (event: Ros2TeleopEvent) => void): () => void }>;
    if (typeof teleoperated.onTeleop === 'function') {
      teleoperated.onTeleop((event) => {
        if (event.kind === 'intervention') loop.setIntervention(event.active, event.source);
        else loop.teleop(event.command);
      });
    }
    // A robot that publishes progress (the ROS 2 bridge: std_msgs/Float32 topics) gets every scored step.
    const publisher = inner as Partial<{ publishProgress(report: { progress: number; hop: number; reward: number }): void }>;
    if (typeof publisher.publishProgress === 'function') {
      loop.onUpdate((update) => {
        if (update.type === 'progress') publisher.publishProgress!({ progress: update.point.progress, hop: update.point.hop, reward: update.point.reward });
      });
    }
    const telemetry = broker
      ? startTelemetry({ ...broker, topicPrefix: config.mqtt.topicPrefix, progressHz: config.mqtt.progressHz, loop, events, log: log.child('mqtt') })
      : null;
    if (telemetry) opened.push({ name: 'telemetry', close: () => telemetry.close() });
    // A retained e-stop must latch before the first action (and before the dashboard can start the
    // run), but a broker that is away must not hold the run.
    if (telemetry && config.mqtt.connectWaitMs > 0 && !(await telemetry.ready(config.mqtt.connectWaitMs))) {
      const detail = `MQTT broker ${broker!.shownUrl} not ready within ${config.mqtt.connectWaitMs} ms (mqtt.connectWaitMs): starting without the remote e-stop; a retained e-stop applies once connected`;
      log.warn(detail);
      events.emit('link', detail, 'serve');
    }
    // A certificate TLS cannot use, a port in use: startDashboard leaves nothing of its own open.
    const dashboard = await startDashboard({
      loop,
      events,
      cameras: robot.cameras,
      log: log.child('dashboard'),
      host: config.dashboard.host,
      port: config.dashboard.port,
      ...(token ? { token: token.token } : {}),
      cameraFps: config.dashboard.cameraFps,
      links: () => (telemetry ? { mqtt: telemetry.link() } : null),
      ...(config.dashboard.tls ? { tls: config.dashboard.tls } : {}),
      insecure: config.dashboard.insecure,
      ...(agent ? { episodeReplay: (episode: number) => agent.replay(episode) } : {}),
      ...(recordedFrames ? { recordedFrames } : {}),
    });
    // Foxglove, live (read-only), where the configuration asks for it.
    const foxglove =
      config.dashboard.foxglovePort === undefined
        ? null
        : await startFoxglove({
            loop, events, cameras: robot.cameras, host: config.dashboard.host, port: config.dashboard.foxglovePort, fps: config.dashboard.cameraFps,
            ...(config.dashboard.tls ? { tls: config.dashboard.tls } : {}), insecure: config.dashboard.insecure, log: log.child('foxglove'),
          });
    if (foxglove) {
      opened.push({ name: 'foxglove', close: () => foxglove.close() });
      log.info(`foxglove: ${foxglove.url} (Foxglove: Open connection, Foxglove WebSocket)`);
    }
    if (parts.autoStart ?? config.robot.backend === 'sim') loop.start('serve');

    let closing: Promise<void> | null = null;
    const shutdown = (reason: string): Promise<void> => {
      closing ??= (async () => {
        log.info(`shutting down: ${reason}`);
        await loop.estop('shutdown', reason);
        await loop.close();
        await recorder?.close();
        await agent?.close();
        await telemetry?.close();
        await foxglove?.close();
        await dashboard.close();
        await recordedFrames?.close();
        await robot.close();
      })();
      return closing;
    };
    return { config, events, robot, loop, agent, dashboard, foxglove, tokenSource: token?.source ?? null, telemetry, shutdown };
  } catch (error) {
    // Newest first: the loop stops before the learner it feeds, the arm's connection closes last.
    for (const part of opened.reverse()) {
      try {
        await part.close();
      } catch (closeError) {
        log.warn(`closing the ${part.name} after a failed start: ${closeError instanceof Error ? closeError.message : String(closeError)}`);
      }
    }
    throw error;
  }
}

/** The simulated world behind a robot (the simulator, or a test wrapper around it), or null for a lab arm. */
function simWorldOf(robot: Robot): SimWorld | null {
  const world = (robot as Partial<{ world: SimWorld }>).world;
  if (world) return world;
  const inner = (robot as Partial<{ inner: Robot }>).inner;
  return inner ? simWorldOf(inner) : null;
}

/** The line logged when an episode ends: outcome, steps, final progress, shaped return, the success rate and the learner so far. */
export function episodeLine(summary: EpisodeSummary, rollouts: number, successRate: number | null, learner: LearnerStatus | null): string {
  const progress = summary.finalProgress === null ? 'no progress scored' : `final progress ${summary.finalProgress.toFixed(2)}`;
  const rate = successRate === null ? 'no rollouts judged yet' : `success ${(100 * successRate).toFixed(0)}% of ${rollouts} rollouts`;
  const learned = learner ? `; learner: ${learner.updates} updates, ${learner.episodes} episodes learned` : '';
  return `episode ${summary.episode}: ${summary.outcome} after ${summary.steps} steps, ${progress}, shaped return ${summary.shapedReturn.toFixed(3)}; ${rate}${learned}`;
}
