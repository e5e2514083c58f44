/**
 * `dopamine rl --actors n`: several simulator workers feeding one learner. Starts `rl-learner` on
 * loopback (its token in its run folder) and n actor processes, each `dopamine rl --learner` with
 * the flags the user gave, its own run folder, seed and name; waits for all and reports each
 * actor's result. An actor that fails does not stop the others: every episode it completed is in
 * its own log and reaches the learner when it is resumed (`--actors n --resume`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { startLearnerProcess } from './learner-process.js';
import type { RlResult } from './train.js';

export interface ActorsOptions {
  actors: number;
  runDir: string;
  /** The run's seed: actor i runs with seed + i (its own demos, episodes and evaluation seeds). */
  seed: number;
  /** All actors together (each runs rollouts / actors); with resume 0 keeps the stored numbers. */
  rollouts: number;
  resume: boolean;
  /** The `dopamine rl` flags given, passed to every actor as they are. */
  flags: string[];
  config?: string;
  maxLagUpdates?: number;
  log: Logger;
}

export interface ActorsResult {
  actors: { name: string; runDir: string; result: RlResult }[];
  learner: { runDir: string };
  wallS: number;
}

const BIN = fileURLToPath(new URL('../bin/dopamine.js', import.meta.url));

/** Runs one actor; its log lines go to stderr prefixed with its name. Resolves with its JSON result. */
function runActor(name: string, args: string[], log: Logger): Promise<RlResult> {
  const child = spawn(process.execPath, [BIN, 'rl', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let lastLine = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  let pending = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.trim() === '') continue;
      lastLine = line;
      process.stderr.write(`[${name}] ${line}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) {
        try {
          resolve(JSON.parse(stdout) as RlResult);
        } catch {
          reject(new Error(`actor ${name}: expected its JSON result on stdout, got ${JSON.stringify(stdout.slice(0, 200))}`));
        }
        return;
      }
      log.error(`actor ${name} ended with ${signal ?? `exit code ${code}`}`);
      const said = (pending || lastLine).trim().replace(/^error: /, '');
      const reason = `actor ${name}: ${signal ? `killed by ${signal}` : said || `exit code ${code}`}`;
      // Exit 2 is bad input (the same for every actor): passed on as such.
      reject(code === 2 ? new InputError('--actors', reason) : new Error(reason));
    });
  });
}

export async function runActors(options: ActorsOptions): Promise<ActorsResult> {
  const started = performance.now();
  mkdirSync(options.runDir, { recursive: true });
  const learnerDir = join(options.runDir, 'learner');
  const config = options.config !== undefined ? ['--config', options.config] : [];
  const learner = await startLearnerProcess({ args: [...config, '--port', '0', '--run-dir', learnerDir] });
  options.log.info(`--actors ${options.actors}: learner on 127.0.0.1:${learner.port} (${learnerDir}), ${options.actors} actors of ${options.rollouts > 0 ? options.rollouts / options.actors : 'their stored'} rollouts each`);
  try {
    const runs = Array.from({ length: options.actors }, (_, i) => {
      const name = `actor-${i}`;
      const runDir = join(options.runDir, name);
      const args = [
        ...config, ...options.flags, '--run-dir', runDir, '--seed', String(options.seed + i),
        ...(options.rollouts > 0 ? ['--rollouts', String(options.rollouts / options.actors)] : []),
        '--learner', `127.0.0.1:${learner.port}`, '--learner-token-file', learner.tokenFile, '--actor-name', name, '--json',
        ...(options.maxLagUpdates === undefined ? [] : ['--learner-max-lag', String(options.maxLagUpdates)]),
        ...(options.resume ? ['--resume'] : []),
      ];
      return runActor(name, args, options.log).then((result) => ({ name, runDir, result }));
    });
    const settled = await Promise.allSettled(runs);
    const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed.length > 0) {
      const message = failed.map((f) => (f.reason as Error).message).join('; ');
      if (failed.every((f) => f.reason instanceof InputError)) throw new InputError('--actors', message.replaceAll('--actors: ', ''));
      throw new Error(`${message} (every episode an actor completed is in its log: resume with --actors ${options.actors} --resume)`);
    }
    return {
      actors: settled.map((s) => (s as PromiseFulfilledResult<ActorsResult['actors'][number]>).value),
      learner: { runDir: learnerDir },
      wallS: (performance.now() - started) / 1000,
    };
  } finally {
    await learner.stop();
  }
}
