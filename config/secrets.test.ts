import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.js';
import { parseConfig } from './load.js';
import { redactConfig, redactText, redactUrl, resolveDashboardToken, resolveMqttConnection } from './secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'dopamine-secrets-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('redaction', () => {
  it('keeps the user name and hides the password of any URL in a text', () => {
    expect(redactUrl('mqtt://user:pass@host:1883')).toBe('mqtt://user:***@host:1883');
    expect(redactUrl('to mqtts://a:b%40c@broker.lab:8883/x and http://k:s@h/')).toBe('to mqtts://a:***@broker.lab:8883/x and http://k:***@h/');
    // A raw @ inside the password is hidden too, not cut at the first @.
    expect(redactUrl('mqtt://user:p@ss@host:1883')).toBe('mqtt://user:***@host:1883');
    expect(redactUrl('mqtt://user@host:1883')).toBe('mqtt://user@host:1883');
    expect(redactText('failed: s3cretpassw0rd rejected', ['s3cretpassw0rd'])).toBe('failed: *** rejected');
  });

  it('redacts the token and URL passwords of a configuration, leaving the rest and the original alone', () => {
    const config = parseConfig({ dashboard: { token: 'a-token-of-twenty-chars' }, mqtt: { url: 'mqtt://user:pass@host:1883' } }, 'test');
    const shown = redactConfig(config);
    expect(shown.dashboard.token).toBe('***');
    expect(shown.mqtt.url).toBe('mqtt://user:***@host:1883');
    expect(shown.reward.shaping).toEqual(config.reward.shaping);
    expect(config.dashboard.token).toBe('a-token-of-twenty-chars');
  });

  it('never shows a token or a URL password in a configuration error', () => {
    expect(() => parseConfig({ dashboard: { token: 'short-secret' } }, 'file.yaml')).toThrow('dashboard.token: expected >= 16, got "***"');
    expect(() => parseConfig({ mqtt: { url: 'mqtt://user:pass-word-1@host' } }, 'file.yaml')).not.toThrow();
    let message = '';
    try {
      parseConfig({ mqtt: { url: 'mqtt://user:pass-word-1@host', passwordEnv: 'MQTT_PASSWORD' } }, 'file.yaml');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).not.toContain('pass-word-1');
  });
});

describe('secret sources in the configuration', () => {
  it.each([
    [{ dashboard: { token: 'a-token-of-twenty-chars', tokenFile: 'token.txt' } }, 'dashboard.tokenFile: expected at most one of dashboard.token, dashboard.tokenFile, dashboard.tokenEnv, got dashboard.token and dashboard.tokenFile'],
    [{ dashboard: { tokenFile: 'token.txt', tokenEnv: 'TOKEN' } }, 'dashboard.tokenEnv: expected at most one of'],
    [{ mqtt: { url: 'mqtt://u:p@host', passwordFile: 'pw.txt' } }, 'mqtt.passwordFile: expected at most one of a password in mqtt.url, mqtt.passwordFile, mqtt.passwordEnv, got mqtt.url (user:password@) and mqtt.passwordFile'],
    [{ mqtt: { passwordFile: 'pw.txt', passwordEnv: 'PW' } }, 'mqtt.passwordEnv: expected at most one of'],
    [{ mqtt: { url: 'mqtt://u@host', username: 'v' } }, 'mqtt.username: expected the user name in mqtt.username or in mqtt.url, got both'],
    [{ mqtt: { passwordEnv: 'not a name' } }, 'mqtt.passwordEnv: expected an environment variable name'],
  ])('refuses %j naming the keys', (input, message) => {
    expect(() => parseConfig(input, 'file.yaml')).toThrow(InputError);
    expect(() => parseConfig(input, 'file.yaml')).toThrow(message);
  });
});

describe('resolving secrets where they are used', () => {
  it('reads the control token from the configuration, a file or an environment variable', () => {
    expect(resolveDashboardToken({})).toBeUndefined();
    expect(resolveDashboardToken({ token: 'a-token-of-twenty-chars' })).toEqual({ token: 'a-token-of-twenty-chars', source: 'dashboard.token' });
    expect(resolveDashboardToken({ tokenFile: file('token.txt', 'token-from-a-file-0123\n') })).toEqual({ token: 'token-from-a-file-0123', source: 'dashboard.tokenFile' });
    expect(resolveDashboardToken({ tokenEnv: 'DASH_TOKEN' }, { DASH_TOKEN: 'token-from-the-environment' })).toEqual({ token: 'token-from-the-environment', source: 'dashboard.tokenEnv' });
  });

  it('refuses a missing file or variable and a short token, naming the key and never the token', () => {
    expect(() => resolveDashboardToken({ tokenFile: join(dir, 'none.txt') })).toThrow(/^dashboard\.tokenFile: expected a readable file, got ".*none\.txt" \(no such file\)$/);
    expect(() => resolveDashboardToken({ tokenEnv: 'DASH_TOKEN' }, {})).toThrow('dashboard.tokenEnv: expected the environment variable DASH_TOKEN to be set, got none');
    expect(() => resolveDashboardToken({ tokenFile: file('empty.txt', '\n') })).toThrow(/dashboard\.tokenFile: expected the secret on the first line/);
    const short = (): unknown => resolveDashboardToken({ tokenEnv: 'DASH_TOKEN' }, { DASH_TOKEN: 'tiny-secret' });
    expect(short).toThrow(InputError);
    expect(short).toThrow('dashboard.tokenEnv: expected a token of at least 16 characters, got 11');
    expect(short).not.toThrow(/tiny-secret/);
    expect(() => resolveMqttConnection({ url: 'mqtt://host:1883', passwordEnv: 'MQTT_PW' }, {})).toThrow('mqtt.passwordEnv: expected the environment variable MQTT_PW to be set, got none');
    expect(() => resolveMqttConnection({ url: 'mqtt://host:1883', passwordFile: join(dir, 'none.txt') })).toThrow(/^mqtt\.passwordFile: expected a readable file/);
  });

  it('takes the broker credentials out of the URL, from the keys, a file or an environment variable', () => {
    expect(resolveMqttConnection({ url: 'mqtt://user:p%40ss@host:1883' })).toEqual({ url: 'mqtt://host:1883', shownUrl: 'mqtt://user:***@host:1883', username: 'user', password: 'p@ss' });
    expect(resolveMqttConnection({ url: 'mqtt://127.0.0.1:1883' })).toEqual({ url: 'mqtt://127.0.0.1:1883', shownUrl: 'mqtt://127.0.0.1:1883' });
    expect(resolveMqttConnection({ url: 'mqtt://host:1883', username: 'robot', passwordFile: file('pw.txt', 'from-file\n') })).toEqual({
      url: 'mqtt://host:1883',
      shownUrl: 'mqtt://robot:***@host:1883',
      username: 'robot',
      password: 'from-file',
    });
    expect(resolveMqttConnection({ url: 'mqtt://robot@host:1883', passwordEnv: 'MQTT_PW' }, { MQTT_PW: 'from-env' })).toEqual({
      url: 'mqtt://host:1883',
      shownUrl: 'mqtt://robot@host:1883',
      username: 'robot',
      password: 'from-env',
    });
  });
});
