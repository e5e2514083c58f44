/** Test helpers for the dashboard, telemetry and soak tests: a run on the kinematic test robot. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { systemClock } from '../common/clock.js';
import { createLogger, type Logger } from '../common/log.js';
import { configSchema, type ConfigInput } from '../config/schema.js';
import { startServing, type Serving } from '../launch/serve.js';
import type { ActionSource } from '../launch/sources.js';
import { SimRobot } from '../robot/sim/robot.js';
import { KinematicTestRobot, RecordingRobot, type KinematicTestRobotOptions } from '../robot/testing.js';

export interface TestServing extends Serving {
  testRobot: KinematicTestRobot;
}

/** A full serve composition on port 0 with the test robot; silent logs unless DOPAMINE_LOG says otherwise. */
export async function startTestServing(
  input: ConfigInput = {},
  options: { robot?: KinematicTestRobotOptions; autoStart?: boolean; actions?: ActionSource } = {},
): Promise<TestServing> {
  // At the control rate, as on an arm (the simulator's default is unpaced).
  const config = configSchema.parse({ ...input, robot: { ...input.robot, sim: { realtime: true, ...input.robot?.sim } }, dashboard: { port: 0, ...input.dashboard } });
  const testRobot = new KinematicTestRobot({
    controlHz: config.robot.controlHz,
    episodeSteps: Math.round(config.robot.episodeSeconds * config.robot.controlHz),
    width: config.cameras.width,
    height: config.cameras.height,
    ...options.robot,
  });
  const log = createLogger('test', process.env.DOPAMINE_LOG === undefined ? 'silent' : undefined);
  const serving = await startServing(config, log, {
    robot: testRobot,
    clock: systemClock,
    autoStart: options.autoStart ?? false,
    // The kinematic test robot draws a marker, no task scene for a reward model: the labelled stand-ins.
    agent: 'stand-in',
    ...(options.actions ? { actions: options.actions } : {}),
  });
  return { ...serving, testRobot };
}

export interface SimServing extends Serving {
  /** The MuJoCo simulator behind a recorder of every action and stop that reaches it. */
  recorded: RecordingRobot;
}

/**
 * A full serve composition on port 0 with the MuJoCo simulator (what `npm start` runs: the RL loop
 * with the shipped GRM-tiny, its learner in a new temporary folder unless policy.runDir is given).
 */
export async function startSimServing(input: ConfigInput = {}, options: { autoStart?: boolean; agent?: 'rl' | 'stand-in' } = {}): Promise<SimServing> {
  const runDir = input.policy?.runDir ?? mkdtempSync(join(tmpdir(), 'dopamine-serve-run-'));
  // Unless a test says otherwise: no demos (they take a minute to record), and steps at the control rate (as on an arm).
  const config = configSchema.parse({
    ...input,
    robot: { ...input.robot, sim: { realtime: true, ...input.robot?.sim } },
    dashboard: { port: 0, ...input.dashboard },
    policy: { demos: 0, ...input.policy, runDir },
  });
  const recorded = new RecordingRobot(await SimRobot.create(config));
  const log = createLogger('test', process.env.DOPAMINE_LOG === undefined ? 'silent' : undefined);
  const serving = await startServing(config, log, { robot: recorded, clock: systemClock, autoStart: options.autoStart ?? false, agent: options.agent ?? 'rl' });
  return { ...serving, recorded };
}

export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A dashboard viewer: the websocket at /ws, authenticated with its first message as the page does. */
export function openViewer(dashboardUrl: string, token: string, options: { origin?: string } = {}): WebSocket {
  const socket = new WebSocket(`${dashboardUrl.replace(/^http/, 'ws').replace(/\/?$/, '/')}ws`, {
    ...(options.origin ? { origin: options.origin } : {}),
    rejectUnauthorized: false, // the tests' self-signed certificates
  });
  socket.once('open', () => socket.send(JSON.stringify({ type: 'auth', token })));
  return socket;
}

/** A logger that keeps every line (all levels), as "<level> <message>". */
export function capturingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
    child: () => logger,
  };
  return logger;
}
