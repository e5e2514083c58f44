/**
 * Entry point of `dopamine`. Exit codes: 0 success, 2 bad input (one line naming the input and
 * what was expected), 1 internal error.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isInputError } from '../common/errors.js';
import { commandRegistrations } from './commands/index.js';

export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
export const EXIT_BAD_INPUT = 2;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command('dopamine')
    .description('Robo-Dopamine: a multi-view process reward model, policy-invariant shaping and online RL for robot arms')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of commandRegistrations) register(program);
  // Sub-commands throw instead of exiting, so main() owns the exit code.
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT_OK;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; commander already printed usage errors on stderr.
      return error.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
    }
    if (isInputError(error)) {
      process.stderr.write(`error: ${error.message}\n`);
      return EXIT_BAD_INPUT;
    }
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`internal error: ${message}\n`);
    return EXIT_INTERNAL;
  }
}

/** How long a failed command may take to wind down before the process exits anyway, ms. */
export const FAILED_EXIT_GRACE_MS = 2000;

/**
 * After a failed command the process must end with its exit code, even if something it opened
 * (a timer, a socket, a child) is still open: that is named on stderr (a bug to fix) and the
 * process exits. The timer does not itself keep the process alive.
 */
export function endAfterFailure(code: number, graceMs = FAILED_EXIT_GRACE_MS): void {
  if (code === EXIT_OK) return;
  setTimeout(() => {
    const open = process.getActiveResourcesInfo().filter((kind) => kind !== 'TTYWrap');
    process.stderr.write(`internal error: still running ${graceMs} ms after the command failed (open: ${open.join(', ') || 'nothing named'}); exiting\n`);
    process.exit(code);
  }, graceMs).unref();
}
