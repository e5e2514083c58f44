/**
 * The frame every sub-command shares: `--config` and `--json` options, the loaded configuration,
 * and one place that turns results and errors into output and exit codes.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../common/log.js';

export interface CommandContext {
  config: Config;
  /** `--json` was given: stdout carries one JSON document, everything else goes to stderr. */
  json: boolean;
  log: Logger;
  /** Prints the command's result: JSON under `--json`, else the human text. */
  report(result: unknown, human?: string | ((result: unknown) => string)): void;
}

interface CommonOptions {
  config?: string;
  json?: boolean;
}

/** Adds the shared options to a sub-command. Commands that report results pass `json: true`. */
export function withCommonOptions(command: Command, { json = true }: { json?: boolean } = {}): Command {
  command.option('--config <file>', 'run configuration (YAML); defaults describe the embedded simulator');
  if (json) command.option('--json', 'print one JSON document on stdout (logs stay on stderr)');
  return command;
}

export function createContext(options: CommonOptions, scope: string): CommandContext {
  const config = loadConfig(options.config);
  const json = options.json === true;
  return {
    config,
    json,
    log: createLogger(scope),
    report(result, human) {
      if (json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      const text = typeof human === 'function' ? human(result) : (human ?? JSON.stringify(result, null, 2));
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
  };
}

/**
 * Wraps an action: builds the context from the command's options (the last commander argument
 * is the Command itself) and hands positional arguments through.
 */
export function action<A extends unknown[]>(
  scope: string,
  run: (context: CommandContext, ...args: A) => Promise<void> | void,
): (...raw: unknown[]) => Promise<void> {
  return async (...raw: unknown[]) => {
    const command = raw[raw.length - 1] as Command;
    const options = command.opts<CommonOptions>();
    const context = createContext(options, scope);
    await run(context, ...(raw.slice(0, -1) as A));
  };
}
