/**
 * `dopamine rl-learner`: the learner as its own process (e.g. on a GPU machine); actors connect
 * with `dopamine rl --learner host:port`. Protocol: gRPC, docs/actor-learner-protocol.md.
 */
import { mkdirSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.js';
import { checkListen, isLoopbackHost } from '../../common/net.js';
import { learnerToken, readPem } from '../../policy/learner-credentials.js';
import { action, withCommonOptions } from '../command.js';

interface LearnerOptions {
  port?: string;
  host?: string;
  runDir?: string;
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  insecure?: boolean;
}

export function registerRlLearner(program: Command): void {
  const command = program
    .command('rl-learner')
    .description('run the RL learner as a gRPC server for `dopamine rl --learner host:port` actors, one or several (stops on SIGINT/SIGTERM)')
    .option('--port <n>', 'TCP port (0: any free port, printed at start)', '7070')
    .option('--host <address>', 'address to bind; an address other than loopback needs --tls-cert and --tls-key (or --insecure)', '127.0.0.1')
    .option('--run-dir <dir>', 'folder of the learner\'s record log and checkpoints (default policy.runDir + "-learner")')
    .option('--token-file <file>', 'the token every call must carry (default: <run-dir>/learner.token, made at the first start)')
    .option('--tls-cert <pem>', 'serve TLS with this certificate (with --tls-key); actors then pass --learner-ca')
    .option('--tls-key <pem>', 'the private key of --tls-cert')
    .option('--insecure', 'allow a non-loopback --host without TLS: the token and episodes travel in clear text');
  withCommonOptions(command, { json: false }).action(
    action('rl-learner', async (context, options: LearnerOptions) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InputError('--port', `expected a port 0-65535, got ${JSON.stringify(options.port)}`);
      const host = options.host ?? '127.0.0.1';
      if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
        throw new InputError(options.tlsCert === undefined ? '--tls-cert' : '--tls-key', 'expected --tls-cert and --tls-key together');
      }
      const tls = options.tlsCert !== undefined ? { cert: readPem('--tls-cert', options.tlsCert), key: readPem('--tls-key', options.tlsKey!) } : undefined;
      if (!tls && !isLoopbackHost(host) && options.insecure !== true) {
        throw new InputError('--host', `expected a loopback address without TLS, got ${JSON.stringify(host)} (give --tls-cert and --tls-key, or --insecure to send the token in clear text)`);
      }
      if (!tls && !isLoopbackHost(host)) context.log.warn(`--insecure: the learner listens on ${host} without TLS; its token and the episodes travel in clear text`);
      // Refused before the run folder is made and the learner loads.
      await checkListen(host, port, '--port', '--host');
      const runDir = options.runDir ?? `${context.config.policy.runDir}-learner`;
      mkdirSync(runDir, { recursive: true });
      const { token, file } = learnerToken(options.tokenFile, runDir);
      const { LearnerServer } = await import('../../policy/protocol.js');
      const server = new LearnerServer({ runDir, log: context.log, token, ...(tls ? { tls } : {}) });
      const bound = await server.listen(port, host);
      process.stdout.write(`learner listening on ${host}:${bound} (token file: ${file})\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    }),
  );
}
