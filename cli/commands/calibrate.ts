import type { Command } from 'commander';
import { InputError } from '../../common/errors.js';
import { calibrationText, checkCalibration } from '../../calibration/check.js';
import { checkSeconds, timingsFromMcap, timingsFromRobot, timingsFromRos2, type TimingSource } from '../../calibration/sources.js';
import { action, withCommonOptions } from '../command.js';
import { parseIntegerFlag } from '../episode-options.js';

interface CheckFlags {
  mcap?: string;
  seconds?: string;
  steps?: string;
}

export function registerCalibrate(program: Command): void {
  const calibrate = program.command('calibrate').description('camera roles, crops, camera_info and workspace bounds');
  const check = calibrate
    .command('check')
    .description('per configured view: do frames arrive, at what rate, how well synchronised; crops, camera_info and workspace bounds (exit 2 on a problem)')
    .option('--mcap <file>', 'judge a recorded ROS 2 MCAP file instead of the configured robot')
    .option('--seconds <s>', 'ROS 2: listen to the camera topics this long (default 5)')
    .option('--steps <n>', 'simulator: control steps to observe (default 30)');
  withCommonOptions(check).action(
    action('calibrate', async (context, flags: CheckFlags) => {
      const { config, log } = context;
      let source: TimingSource;
      if (flags.mcap !== undefined) source = await timingsFromMcap(flags.mcap, config, log);
      else if (config.robot.backend === 'ros2') source = await timingsFromRos2(config, checkSeconds(flags.seconds), log);
      else {
        const steps = parseIntegerFlag('--steps', flags.steps, 30, 1, 10_000);
        const { createRobot } = await import('../../robot/factory.js');
        const robot = await createRobot(config, log.child('robot'));
        try {
          source = await timingsFromRobot(robot, steps);
        } finally {
          await robot.close();
        }
      }
      const report = checkCalibration(config, source.source, source.timings, source.sync, source.problems);
      context.report(report, () => calibrationText(report));
      if (!report.ok) throw new InputError('calibrate check', `${report.problems.length} problem(s): ${report.problems.join('; ')}`);
    }),
  );
  for (const command of [calibrate, check]) command.exitOverride();
}
