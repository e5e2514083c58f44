/**
 * The learner's token and TLS files as the CLI reads them: one clear line naming the flag when a
 * file is missing or empty. A learner started without --token-file makes a token once and keeps
 * it in its run folder (readable by its user only), so a restarted learner takes the same one.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../common/errors.js';

/** Where a learner without --token-file keeps its token. */
export const LEARNER_TOKEN_FILE = 'learner.token';

/** The environment variable an actor reads the token from when --learner-token-file is absent. */
export const LEARNER_TOKEN_ENV = 'DOPAMINE_LEARNER_TOKEN';

function readNonEmpty(flag: string, path: string, what: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new InputError(flag, `expected ${what}, got ${JSON.stringify(path)} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  if (bytes.toString('utf8').trim() === '') throw new InputError(flag, `expected ${what}, got an empty file ${JSON.stringify(path)}`);
  return bytes;
}

export function readToken(flag: string, path: string): string {
  return readNonEmpty(flag, path, 'a file holding the learner\'s token').toString('utf8').trim();
}

/** The learner's token: --token-file, else the one in its run folder (made at the first start). */
export function learnerToken(tokenFile: string | undefined, runDir: string): { token: string; file: string } {
  if (tokenFile !== undefined) return { token: readToken('--token-file', tokenFile), file: tokenFile };
  const file = join(runDir, LEARNER_TOKEN_FILE);
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  return { token: readToken('--token-file', file), file };
}

/** An actor's token: --learner-token-file, else DOPAMINE_LEARNER_TOKEN. */
export function actorToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (tokenFile !== undefined) return readToken('--learner-token-file', tokenFile);
  const value = env[LEARNER_TOKEN_ENV]?.trim();
  if (!value) throw new InputError('--learner-token-file', `expected the learner's token file (rl-learner keeps it in <its run folder>/${LEARNER_TOKEN_FILE}) or ${LEARNER_TOKEN_ENV} set`);
  return value;
}

/** A PEM file for TLS (certificate, key or trusted CA). */
export function readPem(flag: string, path: string): Buffer {
  const bytes = readNonEmpty(flag, path, 'a PEM file');
  if (!bytes.toString('utf8').includes('-----BEGIN ')) throw new InputError(flag, `expected a PEM file, got ${JSON.stringify(path)} (no "-----BEGIN" line)`);
  return bytes;
}

/** `host:port` of a learner process (`--learner`). */
export function learnerAddress(value: string): { host: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(value);
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || port < 1 || port > 65535) throw new InputError('--learner', `expected host:port (port 1-65535), got ${JSON.stringify(value)}`);
  return { host: match[1]!, port };
}
