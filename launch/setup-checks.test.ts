import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../config/load.js';
import { learnerCheck, minimumNode, mqttCheck, nodeCheck, portCheck, rewardModelCheck, runFolderCheck, shown, tcpReachable } from './setup-checks.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
});

async function listening(): Promise<number> {
  const server = createServer((socket) => socket.destroy());
  servers.push(server);
  await new Promise<void>((done) => server.listen({ host: '127.0.0.1', port: 0 }, done));
  return (server.address() as { port: number }).port;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen({ host: '127.0.0.1', port: 0 }, done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

describe('nodeCheck', () => {
  it('compares the running Node.js with engines.node', () => {
    expect(minimumNode('>=20.19')).toEqual([20, 19]);
    expect(minimumNode('>= 22')).toEqual([22, 0]);
    expect(nodeCheck('v20.19.0', '>=20.19').ok).toBe(true);
    expect(nodeCheck('v22.1.0', '>=20.19').ok).toBe(true);
    expect(nodeCheck('v20.18.3', '>=20.19')).toEqual({ name: 'node', ok: false, required: true, detail: 'expected Node.js >=20.19, got v20.18.3' });
    expect(nodeCheck('v19.9.0', '>=20.19').ok).toBe(false);
  });
});

describe('runFolderCheck', () => {
  it('accepts a writable folder, and one not there yet under a writable folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'runs-'));
    expect(runFolderCheck(dir)).toMatchObject({ ok: true, detail: `${dir}: writable` });
    const later = runFolderCheck(join(dir, 'a', 'b'));
    expect(later.ok).toBe(true);
    expect(later.detail).toBe(`${join(dir, 'a', 'b')}: not there yet; ${dir} is writable, serve creates it`);
  });

  it('refuses a path under a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'runs-'));
    writeFileSync(join(dir, 'file'), 'x');
    const result = runFolderCheck(join(dir, 'file', 'runs'));
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^expected a folder, got ".*" \(.*file is a file\)$/);
  });

  // root may write anywhere: the permission is only checked for another user.
  it.skipIf(process.getuid?.() === 0)('refuses a folder this user cannot write', () => {
    const dir = mkdtempSync(join(tmpdir(), 'runs-'));
    const locked = join(dir, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o500);
    const result = runFolderCheck(join(locked, 'runs'), 'policy.runDir');
    expect(result).toMatchObject({ name: 'policy.runDir', ok: false });
    expect(result.detail).toMatch(/\(.*locked: EACCES\)$/);
  });

  it('shows paths inside the working folder relative to it', () => {
    expect(shown('/work/x/runs/default', '/work/x')).toBe('runs/default');
    expect(shown('/elsewhere/runs', '/work/x')).toBe('/elsewhere/runs');
  });
});

describe('portCheck', () => {
  it('finds a taken port and a free one, without keeping either', async () => {
    const taken = await listening();
    expect(await portCheck('127.0.0.1', taken, 'dashboard.foxglovePort')).toEqual({
      name: 'dashboard.foxglovePort', ok: false, required: true, detail: `expected a free port, got ${taken} (in use)`,
    });
    const free = await closedPort();
    expect(await portCheck('127.0.0.1', free, 'dashboard.port')).toMatchObject({ ok: true, detail: `${free} on 127.0.0.1 is free` });
    // Still free afterwards: the check closed what it bound.
    expect((await portCheck('127.0.0.1', free, 'dashboard.port')).ok).toBe(true);
    expect((await portCheck('127.0.0.1', 0, 'dashboard.port')).ok).toBe(true);
  });

  it('names dashboard.host for an address this machine does not have', async () => {
    const result = await portCheck('192.0.2.1', 8080, 'dashboard.port');
    expect(result.name).toBe('dashboard.host');
    expect(result.ok).toBe(false);
  });
});

describe('servers the run talks to', () => {
  it('tcpReachable connects, or says why not', async () => {
    const port = await listening();
    expect(await tcpReachable(`http://127.0.0.1:${port}/v1`)).toBeNull();
    const closed = await closedPort();
    expect(await tcpReachable(`mqtt://127.0.0.1:${closed}`)).toBe(`ECONNREFUSED connecting to 127.0.0.1:${closed}`);
    expect(await tcpReachable('not a url')).toBe('no URL');
  });

  it('an OpenAI-compatible reward server must answer; an MQTT broker is reported only', async () => {
    const closed = await closedPort();
    const config = parseConfig({ reward: { backend: 'openai', openai: { url: `http://user:secret@127.0.0.1:${closed}/v1` } }, mqtt: { enabled: true, url: `mqtt://127.0.0.1:${closed}` } }, 'test');
    const reward = await rewardModelCheck(config);
    expect(reward.check).toMatchObject({ name: 'reward.openai.url', ok: false, required: true });
    expect(reward.check.detail).not.toContain('secret');
    expect(reward.model).toEqual({ backend: 'openai', where: `http://127.0.0.1:${closed}/v1`, adapted: false, task: null });
    expect(await mqttCheck(config)).toMatchObject({ name: 'mqtt.url', ok: false, required: false });
    expect(await mqttCheck(loadConfig())).toBeNull();
  });

  it('a learner process must be reachable and its token there', async () => {
    const port = await listening();
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'doctor-learner-')), 'token');
    writeFileSync(tokenFile, 'learner-token\n');
    const learner = (extra: object) => parseConfig({ policy: { serve: { learner: { address: `127.0.0.1:${port}`, ...extra } } } }, 'test');
    expect(await learnerCheck(loadConfig())).toBeNull();
    expect(await learnerCheck(learner({ tokenFile }))).toEqual({ name: 'policy.serve.learner', ok: true, required: true, detail: `learner at 127.0.0.1:${port} accepts connections (no TLS; token present)` });
    expect(await learnerCheck(learner({ tokenEnv: 'DOPAMINE_TEST_NO_SUCH_TOKEN' }))).toMatchObject({ ok: false, detail: 'no token: DOPAMINE_TEST_NO_SUCH_TOKEN is not set' });
    expect((await learnerCheck(learner({ tokenFile: `${tokenFile}-missing` })))!.detail).toMatch(/^token file .*-missing not readable \(ENOENT\)$/);
    const closed = await closedPort();
    const away = parseConfig({ policy: { serve: { learner: { address: `127.0.0.1:${closed}`, tokenFile } } } }, 'test');
    expect(await learnerCheck(away)).toMatchObject({ ok: false, required: true, detail: `learner at 127.0.0.1:${closed} not reachable (ECONNREFUSED connecting to 127.0.0.1:${closed}): start \`dopamine rl-learner\` there first` });
  });

  it('a file that is no GRM is named as such', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-'));
    const file = join(dir, 'm.onnx');
    writeFileSync(file, 'not onnx');
    const { check } = await rewardModelCheck(parseConfig({ reward: { model: file } }, 'test'));
    expect(check).toMatchObject({ name: 'reward.model', ok: false, required: true });
    expect(check.detail).toMatch(/^expected a reward model following docs\/grm-contract\.md, got /);
  });
});
