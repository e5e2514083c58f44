import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { describeValue, InputError, isInputError } from '../../common/errors.js';
import { checkListen } from '../../common/net.js';
import { learnerAddress } from '../../policy/learner-credentials.js';
import { action, withCommonOptions } from '../command.js';
import { REDACTED } from '../../config/secrets.js';

interface ServeOptions {
  port?: string;
  foxglovePort?: string;
  model?: string;
  learner?: string;
}

function parsePort(text: string, flag = '--port'): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new InputError(flag, `expected an integer from 0 to 65535, got ${JSON.stringify(text)}`);
  return port;
}

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('run the whole loop on the configured robot with the live dashboard (what `npm start` runs)')
    .option('--port <port>', 'dashboard port (overrides dashboard.port; 0: any free port)')
    .option('--foxglove-port <port>', 'also serve the run to Foxglove on this port (Foxglove WebSocket protocol, read-only; sets dashboard.foxglovePort)')
    .option('--model <m.onnx|url>', 'reward model: an .onnx GRM (an adapted one brings its task references; overrides reward.model) or the http(s) URL of an OpenAI-compatible GRM server (sets reward.backend openai and reward.openai.url)')
    .option('--learner <host:port>', 'send demos and episodes to `dopamine rl-learner` over gRPC and act with its weights (sets policy.serve.learner.address; the token from policy.serve.learner.tokenFile or $DOPAMINE_LEARNER_TOKEN)');
  withCommonOptions(command, { json: false }).action(
    action('serve', async (context, options: ServeOptions) => {
      const config = structuredClone(context.config);
      if (options.port !== undefined) config.dashboard.port = parsePort(options.port);
      if (options.foxglovePort !== undefined) config.dashboard.foxglovePort = parsePort(options.foxglovePort, '--foxglove-port');
      if (options.learner !== undefined) {
        const { host, port } = learnerAddress(options.learner);
        config.policy.serve.learner = { ...(config.policy.serve.learner ?? { tokenEnv: 'DOPAMINE_LEARNER_TOKEN' }), address: `${host}:${port}` };
      }
      if (options.model !== undefined) {
        if (/^https?:\/\//i.test(options.model)) {
          config.reward.backend = 'openai';
          config.reward.openai.url = options.model;
        } else if (existsSync(options.model)) {
          config.reward.backend = 'onnx';
          config.reward.model = options.model;
        } else {
          throw new InputError('--model', `expected an .onnx reward model file or an http(s) URL, got ${describeValue(options.model)} (no such file)`);
        }
      }
      // A port in use is refused before the robot, the reward model and the learner load.
      const portInput = options.port === undefined ? 'dashboard.port' : '--port / dashboard.port';
      await checkListen(config.dashboard.host, config.dashboard.port, portInput);
      if (config.dashboard.foxglovePort !== undefined) await checkListen(config.dashboard.host, config.dashboard.foxglovePort, options.foxglovePort === undefined ? 'dashboard.foxglovePort' : '--foxglove-port');
      // Loaded here, not at the top: other commands need not load fastify, mqtt and sharp.
      const { startServing } = await import('../../launch/serve.js');
      const serving = await startServing(config, context.log).catch((error: unknown) => {
        // Taken between the check and the dashboard's start: still named as the flag that was given.
        throw isInputError(error) && error.input === 'dashboard.port' ? new InputError(portInput, error.message.slice(error.input.length + 2)) : error;
      });
      const { dashboard } = serving;
      // stdout: the one line an operator needs (the token rides in the fragment, never sent to the server).
      // A configured token is the operator's already and is not printed, so it stays out of logs.
      const shown = serving.tokenSource === null ? { url: dashboard.urlWithToken, token: dashboard.token } : { url: dashboard.url, token: `${REDACTED} (from ${serving.tokenSource})` };
      context.report(null, `dashboard: ${shown.url}\ncontrol token: ${shown.token}`);

      await new Promise<void>((resolve) => {
        let signalled = false;
        const onSignal = (signal: NodeJS.Signals): void => {
          if (signalled) {
            context.log.error(`second ${signal}: exiting without a clean shutdown`);
            process.exit(130);
          }
          signalled = true;
          // The arm first: e-stop (robot.stop), then the servers.
          void serving.shutdown(`received ${signal}`).then(resolve, (error: unknown) => {
            context.log.error(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
            resolve();
          });
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      context.log.info('arm stopped, dashboard closed');
    }),
  );
}
