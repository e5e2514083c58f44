import type { Command } from 'commander';
import { action, withCommonOptions } from '../command.js';

interface ServeOptions {
  port?: string;
}

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('run the whole loop on the configured robot with the live dashboard (what `npm start` runs)')
    .option('--port <port>', 'dashboard port (overrides dashboard.port)');
  withCommonOptions(command, { json: false }).action(
    action('serve', (context, options: ServeOptions) => {
      const port = options.port ?? String(context.config.dashboard.port);
      context.log.info(`configuration loaded: robot=${context.config.robot.backend} task=${context.config.robot.task} port=${port}`);
      context.log.warn(
        'the loop is not built yet: simulator, reward model, RL and dashboard arrive with their issues (see README, "Not done yet")',
      );
    }),
  );
}
