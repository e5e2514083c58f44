import type { Command } from 'commander';
import { InputError } from '../../common/errors.js';
import { checkRos2, startRosRuntime, type Ros2Availability } from '../../robot/ros2/rclnodejs.js';
import { ROS_TYPES } from '../../robot/ros2/messages.js';
import { runSmoke, type SmokeReport } from '../../robot/ros2/smoke.js';
import { action, withCommonOptions } from '../command.js';

/** Every interface type the bridge uses. */
export const BRIDGE_TYPES = [...Object.values(ROS_TYPES), 'geometry_msgs/msg/PoseStamped'];

function availabilityText(result: Ros2Availability): string {
  return [
    `ROS_DISTRO: ${result.rosDistro ?? '(unset)'}${result.rosDistro !== null && !result.distroSupported ? ' (not supported)' : ''}`,
    `rclnodejs: ${result.rclnodejsVersion ?? (result.problem !== null && result.interfaces.every((i) => !i.available) ? 'not available' : 'loaded')}`,
    ...result.interfaces.map((i) => `  ${i.available ? 'ok     ' : 'missing'} ${i.type}`),
    result.available ? 'the ROS 2 bridge can start' : `problem: ${result.problem}`,
  ].join('\n');
}

function smokeText(report: SmokeReport): string {
  return [
    'bridge checks (topics under /dopamine_smoke):',
    ...report.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
    'lab graph for the configured robot (informational):',
    ...report.lab.map((c) => `  ${c.ok ? 'ok  ' : '--  '} ${c.name}: ${c.detail}`),
  ].join('\n');
}

export function registerRos2(program: Command): void {
  const ros2 = program.command('ros2').description('the ROS 2 bridge: what is available here, and a smoke test on a machine with ROS 2');
  const check = ros2
    .command('check')
    .description('report the sourced ROS 2, rclnodejs and the interface types the bridge needs (exit 2 when the bridge cannot start)');
  withCommonOptions(check).action(
    action('ros2', async (context) => {
      const result = await checkRos2(BRIDGE_TYPES);
      context.report(result, () => availabilityText(result));
      if (!result.available) throw new InputError('ros2', result.problem ?? 'not available');
    }),
  );
  const smoke = ros2
    .command('smoke')
    .description('on a machine with ROS 2: run the bridge over the middleware on /dopamine_smoke topics, then list what the lab graph offers');
  withCommonOptions(smoke).action(
    action('ros2', async (context) => {
      const availability = await checkRos2(BRIDGE_TYPES);
      if (!availability.available) throw new InputError('ros2', availability.problem ?? 'not available');
      const runtime = await startRosRuntime(`${context.config.robot.ros2.nodeName}_smoke`);
      try {
        const report = await runSmoke(runtime.node, context.config, context.log);
        context.report(report, () => smokeText(report));
        if (!report.ok) throw new InputError('ros2 smoke', `failed: ${report.checks.filter((c) => !c.ok).map((c) => c.name).join(', ')}`);
      } finally {
        await runtime.shutdown();
      }
    }),
  );
  for (const command of [ros2, check, smoke]) command.exitOverride();
}
