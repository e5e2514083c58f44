import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.js';
import { checkListen } from '../../common/net.js';
import { launchConfig, launchPlan, planText, readLaunch } from '../../launch/description.js';
import { action, withCommonOptions } from '../command.js';
import { REDACTED, redactConfig } from '../../config/secrets.js';

interface LaunchFlags {
  dryRun?: boolean;
}

export function registerLaunch(program: Command): void {
  const command = program
    .command('launch')
    .description('run a launch description (YAML: nodes for the simulator or ROS 2); --dry-run validates it and prints the plan')
    .argument('<file>', 'launch description, e.g. launch/examples/sim.launch.yaml')
    .option('--dry-run', 'validate, print the plan and the effective configuration, start nothing');
  withCommonOptions(command).action(
    action('launch', async (context, file: string, flags: LaunchFlags) => {
      const path = resolve(file);
      const launch = readLaunch(path);
      const config = launchConfig(launch, path);
      const plan = launchPlan(launch, config);
      if (flags.dryRun === true) {
        context.report({ ...plan, config: redactConfig(plan.config) }, () => planText(plan));
        return;
      }
      // The serve stack runs every node together; it cannot leave one out yet.
      const off = plan.nodes.filter((n) => !n.enabled).map((n) => n.node);
      if (off.length > 0) throw new InputError(`${file}: nodes.${off[0]}.enabled`, 'expected true to run (a run without a node is not supported yet; --dry-run prints the plan)');
      // A port in use is refused before the robot, the reward model and the learner load.
      await checkListen(config.dashboard.host, config.dashboard.port);
      context.log.info(planText(plan));
      const { startServing } = await import('../../launch/serve.js');
      const serving = await startServing(config, context.log);
      // A configured token is the operator's already and is not printed, so it stays out of logs.
      const shown = serving.tokenSource === null ? { dashboard: serving.dashboard.urlWithToken, token: serving.dashboard.token } : { dashboard: serving.dashboard.url, token: REDACTED };
      context.report(shown, `dashboard: ${shown.dashboard}\ncontrol token: ${shown.token}${serving.tokenSource === null ? '' : ` (from ${serving.tokenSource})`}`);
      await new Promise<void>((done) => {
        const stop = (signal: NodeJS.Signals): void => {
          void serving.shutdown(`received ${signal}`).then(done, (error: unknown) => {
            context.log.error(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
            done();
          });
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      context.log.info('arm stopped, dashboard closed');
    }),
  );
}
