/**
 * Logs go to stderr so that stdout stays one JSON document under `--json`.
 * Level from DOPAMINE_LOG (debug, info, warn, error, silent); info by default.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  child(scope: string): Logger;
}

function levelFromEnv(): LogLevel {
  const value = process.env.DOPAMINE_LOG;
  return value !== undefined && value in order ? (value as LogLevel) : 'info';
}

export function createLogger(scope = 'dopamine', level: LogLevel = levelFromEnv()): Logger {
  const write = (at: LogLevel, message: string): void => {
    if (order[at] < order[level]) return;
    process.stderr.write(`${new Date().toISOString()} ${at.padEnd(5)} [${scope}] ${message}\n`);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
    child: (sub) => createLogger(`${scope}:${sub}`, level),
  };
}

export const log = createLogger();
