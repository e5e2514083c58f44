/**
 * Secrets of the configuration (the dashboard's control token, the MQTT broker's password):
 * redaction wherever configuration or URLs are printed, and resolving them where they are used,
 * from the configuration itself, a file or an environment variable it names. Resolved secrets
 * never go back into the configuration, so `dopamine config --print` cannot show them.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../common/errors.js';

export const REDACTED = '***';

/** Keys whose string values are secrets wherever they occur in the configuration. */
const SECRET_KEYS = new Set(['token', 'password']);

/** Smallest control token (the schema's bound on dashboard.token). */
export const MIN_TOKEN_LENGTH = 16;

// scheme://user:password@ ; greedy up to the last @ of the authority, so a raw @ in a password is covered too.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/]*)@/gi;

/** Any `scheme://user:password@` in the text becomes `scheme://user:***@` (text without one is unchanged). */
export function redactUrl(text: string): string {
  return text.replace(URL_CREDENTIALS, (_match, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`);
}

/** The text with each given secret (empty ones ignored) replaced, and URL passwords redacted. */
export function redactText(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = redactUrl(text);
  for (const secret of secrets) if (secret !== undefined && secret !== '') out = out.split(secret).join(REDACTED);
  return out;
}

/** A copy of a configuration (or any part of it) with secret keys and URL passwords redacted. */
export function redactConfig<T>(value: T): T {
  return redactValue(value, undefined) as T;
}

function redactValue(value: unknown, key: PropertyKey | undefined): unknown {
  if (typeof value === 'string') return typeof key === 'string' && SECRET_KEYS.has(key) ? REDACTED : redactUrl(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, undefined));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, k)]));
  }
  return value;
}

/** The value at a configuration key path, as an error message may show it. */
export function redactAt(path: readonly PropertyKey[], value: unknown): unknown {
  return redactValue(value, path[path.length - 1]);
}

/** User name and password written into a URL (percent-decoded), or null when it holds none or is no URL. */
export function urlCredentials(url: string): { username: string; password: string } | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.username === '' && parsed.password === '') return null;
  return { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
}

/** The URL without user name and password (unchanged when it is no URL or holds none). */
export function urlWithoutCredentials(url: string): string {
  if (urlCredentials(url) === null) return url;
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
}

/** A secret from a file (its first line, surrounding white space removed) or an environment variable. */
function readSecret(key: string, source: { file?: string; env?: string }, env: NodeJS.ProcessEnv): string {
  let value: string;
  if (source.file !== undefined) {
    try {
      value = readFileSync(source.file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new InputError(key, `expected a readable file, got ${JSON.stringify(source.file)} (${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')})`);
    }
    value = (value.split(/\r?\n/)[0] ?? '').trim();
    if (value === '') throw new InputError(key, `expected the secret on the first line of ${JSON.stringify(source.file)}, got an empty line`);
    return value;
  }
  const name = source.env!;
  const raw = env[name];
  if (raw === undefined) throw new InputError(key, `expected the environment variable ${name} to be set, got none`);
  value = raw.trim();
  if (value === '') throw new InputError(key, `expected the environment variable ${name} to hold the secret, got an empty value`);
  return value;
}

export interface DashboardSecrets {
  token?: string;
  tokenFile?: string;
  tokenEnv?: string;
}

/**
 * The control token: dashboard.token, the file dashboard.tokenFile or the variable
 * dashboard.tokenEnv; undefined when none is configured (the dashboard makes a random one).
 * `source` names the key it came from.
 */
export function resolveDashboardToken(dashboard: DashboardSecrets, env: NodeJS.ProcessEnv = process.env): { token: string; source: string } | undefined {
  if (dashboard.token !== undefined) return { token: dashboard.token, source: 'dashboard.token' };
  const key = dashboard.tokenFile !== undefined ? 'dashboard.tokenFile' : dashboard.tokenEnv !== undefined ? 'dashboard.tokenEnv' : undefined;
  if (key === undefined) return undefined;
  const token = readSecret(key, { ...(dashboard.tokenFile !== undefined ? { file: dashboard.tokenFile } : { env: dashboard.tokenEnv! }) }, env);
  if (token.length < MIN_TOKEN_LENGTH) throw new InputError(key, `expected a token of at least ${MIN_TOKEN_LENGTH} characters, got ${token.length}`);
  return { token, source: key };
}

export interface MqttSecrets {
  url: string;
  username?: string;
  passwordFile?: string;
  passwordEnv?: string;
}

export interface MqttConnection {
  /** The broker URL without credentials (what mqtt.js connects to). */
  url: string;
  /** The URL as logs show it: the user name kept, the password redacted. */
  shownUrl: string;
  username?: string;
  password?: string;
}

/** Broker URL and credentials from mqtt.url, mqtt.username and mqtt.passwordFile or mqtt.passwordEnv. */
export function resolveMqttConnection(mqtt: MqttSecrets, env: NodeJS.ProcessEnv = process.env): MqttConnection {
  const inUrl = urlCredentials(mqtt.url);
  const username = mqtt.username ?? (inUrl && inUrl.username !== '' ? inUrl.username : undefined);
  let password = inUrl && inUrl.password !== '' ? inUrl.password : undefined;
  if (mqtt.passwordFile !== undefined) password = readSecret('mqtt.passwordFile', { file: mqtt.passwordFile }, env);
  else if (mqtt.passwordEnv !== undefined) password = readSecret('mqtt.passwordEnv', { env: mqtt.passwordEnv }, env);
  const url = urlWithoutCredentials(mqtt.url);
  let shownUrl = redactUrl(mqtt.url);
  if (inUrl === null && username !== undefined) {
    // Show who connects, never the password: user:***@ when there is one.
    shownUrl = shownUrl.replace(/^([a-z][a-z0-9+.-]*:\/\/)/i, `$1${encodeURIComponent(username)}${password === undefined ? '' : `:${REDACTED}`}@`);
  }
  return { url, shownUrl, ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}
