/**
 * `dopamine rl-learner` as a child process of this one: used by the benchmark's
 * `--learner-process` mode and by the two-process test. Resolves once the learner has printed
 * the address it listens on, so callers can pass `--port 0` and learn the port it got, and where
 * its token is.
 */
import { spawn } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LearnerProcess {
  port: number;
  /** The file holding the learner's token (for `--learner-token-file`). */
  tokenFile: string;
  /** SIGTERM, then waits for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL, then waits for the process to exit. */
  kill(): Promise<void>;
}

export interface LearnerProcessOptions {
  /** Arguments after `rl-learner`, e.g. `['--port', '0', '--run-dir', dir]`. */
  args: string[];
  cwd?: string;
  /** Where the learner's log (stderr) goes; default inherit. */
  stderr?: 'inherit' | 'ignore';
}

const BIN = fileURLToPath(new URL('../bin/dopamine.js', import.meta.url));

export async function startLearnerProcess(options: LearnerProcessOptions): Promise<LearnerProcess> {
  const child = spawn(process.execPath, [BIN, 'rl-learner', ...options.args], {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdio: ['ignore', 'pipe', options.stderr ?? 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let printed = '';
  try {
    const { port, tokenFile } = await new Promise<{ port: number; tokenFile: string }>((resolve, reject) => {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        printed += chunk;
        const match = /learner listening on \S+:(\d+) \(token file: (.+)\)\n/.exec(printed);
        if (match) resolve({ port: Number(match[1]), tokenFile: resolvePath(options.cwd ?? '.', match[2]!) });
      });
      void exited.then((code) => reject(new Error(`rl-learner exited with ${code} before listening; it printed: ${printed.trim() || '(nothing)'}`)));
    });
    return {
      port,
      tokenFile,
      kill: async () => {
        child.kill('SIGKILL');
        await exited;
      },
      stop: async () => {
        child.kill('SIGTERM');
        await exited;
      },
    };
  } catch (error) {
    child.kill('SIGTERM');
    throw error;
  }
}
