/**
 * `dopamine rl-learner`: the learner as its own process (e.g. on a GPU machine); actors connect
 * with `dopamine rl --learner host:port`. Protocol: docs/actor-learner-protocol.md.
 */
import { mkdirSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.js';
import { checkListen } from '../../common/net.js';
import { action, withCommonOptions } from '../command.js';

interface LearnerOptions {
  port?: string;
  host?: string;
  runDir?: string;
}

export function registerRlLearner(program: Command): void {
  const command = program
    .command('rl-learner')
    .description('run the RL learner as a server for `dopamine rl --learner host:port` actors (stops on SIGINT/SIGTERM)')
    .option('--port <n>', 'TCP port (0: any free port, printed at start)', '7070')
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--run-dir <dir>', 'folder of the learner\'s record log and checkpoints (default policy.runDir + "-learner")');
  withCommonOptions(command, { json: false }).action(
    action('rl-learner', async (context, options: LearnerOptions) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InputError('--port', `expected a port 0-65535, got ${JSON.stringify(options.port)}`);
      const host = options.host ?? '127.0.0.1';
      // Refused before the run folder is made and the learner loads.
      await checkListen(host, port, '--port', '--host');
      const runDir = options.runDir ?? `${context.config.policy.runDir}-learner`;
      mkdirSync(runDir, { recursive: true });
      const { LearnerServer } = await import('../../policy/protocol.js');
      const server = new LearnerServer(runDir, context.log);
      const bound = await server.listen(port, options.host);
      process.stdout.write(`learner listening on ${options.host}:${bound}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    }),
  );
}
