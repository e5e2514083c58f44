/**
 * `dopamine doctor [--json]`: what will run where on this machine, before a lab spends an hour
 * finding out. Node.js, ffmpeg, the sourced ROS 2 and rclnodejs (`ros2 check`'s own check), each
 * execution provider and the one engine.executionProvider picks, the reward model `serve` would
 * load, the ports it would listen on, the run folder and the servers it talks to (a reward
 * server, the MQTT broker, a learner process). Exit 0 when the configured set-up can
 * run; else 2, with one `error:` line per problem on stderr after the report.
 */
import type { Command } from 'commander';
import { InputError } from '../../common/errors.js';
import type { Config } from '../../config/schema.js';
import { chosenProvider, providerStatuses } from '../../engine/provider-check.js';
import type { ExecutionProvider } from '../../engine/runtime.js';
import {
  encoderCheck,
  ffmpegCheck,
  learnerCheck,
  mqttCheck,
  nodeCheck,
  portCheck,
  rewardModelCheck,
  runFolderCheck,
  type RewardModelInfo,
  type SetupCheck,
} from '../../launch/setup-checks.js';
import { checkRos2 } from '../../robot/ros2/rclnodejs.js';
import { action, withCommonOptions } from '../command.js';
import { BRIDGE_TYPES } from './ros2.js';

export interface DoctorReport {
  /** Every required check passed: the configured set-up can run here. */
  ok: boolean;
  /** What engine.executionProvider resolves to here (null when the named provider cannot start). */
  executionProvider: ExecutionProvider | null;
  checks: SetupCheck[];
  /** One line per failed required check, `<name>: <detail>`. */
  problems: string[];
  rewardModel: RewardModelInfo;
}

/** The ROS 2 side, as `dopamine ros2 check` sees it; required only for robot.backend ros2. */
async function ros2Check(config: Config): Promise<SetupCheck> {
  const required = config.robot.backend === 'ros2';
  const result = await checkRos2(BRIDGE_TYPES);
  if (result.available) {
    return { name: 'ros2', ok: true, required, detail: `ROS_DISTRO=${result.rosDistro}, rclnodejs ${result.rclnodejsVersion ?? '(version unknown)'}, all ${result.interfaces.length} interface types the bridge uses` };
  }
  if (required) return { name: 'ros2', ok: false, required, detail: result.problem ?? 'not available' };
  const sourced = result.rosDistro === null ? 'no ROS 2 sourced' : `ROS_DISTRO=${result.rosDistro}`;
  const rclnodejs = result.rclnodejsVersion === null ? 'rclnodejs not available' : `rclnodejs ${result.rclnodejsVersion}`;
  return { name: 'ros2', ok: false, required, detail: `not needed with robot.backend ${config.robot.backend} (${sourced}, ${rclnodejs}; dopamine ros2 check says more)` };
}

export async function runDoctor(config: Config): Promise<DoctorReport> {
  // ffmpeg runs in child processes while the providers start in this one.
  const [ffmpeg, ros2, providers] = await Promise.all([ffmpegCheck(), ros2Check(config), providerStatuses()]);
  const checks: SetupCheck[] = [nodeCheck(), ffmpeg, ros2];
  for (const status of providers) checks.push({ name: status.provider, ok: status.available, required: false, detail: status.detail });
  const setting = config.engine.executionProvider;
  const chosen = await chosenProvider(setting);
  checks.push({ name: 'engine.executionProvider', ok: chosen.provider !== null, required: true, detail: chosen.detail });
  const reward = await rewardModelCheck(config);
  checks.push(reward.check, encoderCheck(config));
  const { host, port, foxglovePort } = config.dashboard;
  checks.push(await portCheck(host, port, 'dashboard.port'));
  if (foxglovePort !== undefined) checks.push(await portCheck(host, foxglovePort, 'dashboard.foxglovePort'));
  checks.push(runFolderCheck(config.policy.runDir));
  const mqtt = await mqttCheck(config);
  if (mqtt) checks.push(mqtt);
  const learner = await learnerCheck(config);
  if (learner) checks.push(learner);
  const problems = checks.filter((c) => c.required && !c.ok).map((c) => `${c.name}: ${c.detail}`);
  return { ok: problems.length === 0, executionProvider: chosen.provider, checks, problems, rewardModel: reward.model };
}

function doctorText(report: DoctorReport): string {
  const mark = (c: SetupCheck): string => (c.ok ? 'ok  ' : c.required ? 'FAIL' : '--  ');
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const verdict = report.ok
    ? `the configured set-up can run here; the models run on ${report.executionProvider}`
    : `the configured set-up cannot run here: ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`;
  return [...report.checks.map((c) => `${mark(c)} ${c.name.padEnd(width)}  ${c.detail}`), verdict].join('\n');
}

/**
 * One InputError for every problem: main prints `error: <message>`, so each further problem
 * starts its own `error:` line and stderr has exactly one line per problem.
 */
export function problemsError(report: DoctorReport): InputError {
  const failed = report.checks.filter((c) => c.required && !c.ok);
  const [first, ...rest] = failed;
  if (!first) throw new Error('problemsError: the report has no problem');
  return new InputError(first.name, [first.detail, ...rest.map((c) => `error: ${c.name}: ${c.detail}`)].join('\n'));
}

export function registerDoctor(program: Command): void {
  const command = program
    .command('doctor')
    .description('what will run where on this machine: Node.js, ffmpeg, ROS 2, execution providers, reward model, ports, run folder (exit 2 naming each problem)');
  withCommonOptions(command).action(
    action('doctor', async (context) => {
      const report = await runDoctor(context.config);
      context.report(report, () => doctorText(report));
      if (!report.ok) throw problemsError(report);
    }),
  );
}
