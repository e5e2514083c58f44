import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli, runCliAsync } from './testing.js';

const bin = fileURLToPath(new URL('../bin/dopamine.js', import.meta.url));

describe('dopamine serve', () => {
  it('refuses a bad --port with exit code 2', () => {
    const run = runCli(['serve', '--port', 'eighty']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--port: expected an integer from 0 to 65535, got "eighty"/);
  });

  it('refuses a --port in use at once: exit code 2, one line naming the port, nothing left running or written', async () => {
    const occupier = createServer();
    await new Promise<void>((resolve) => occupier.listen(0, '127.0.0.1', resolve));
    const port = (occupier.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'dopamine-serve-port-'));
    const file = join(dir, 'serve.yaml');
    writeFileSync(file, `policy:\n  runDir: ${JSON.stringify(join(dir, 'run'))}\n  demos: 0\n`);
    try {
      // A process that stays alive is killed at the bound and reads as code -1.
      const run = await runCliAsync(['serve', '--port', String(port), '--config', file], { timeoutMs: 15_000 });
      expect(run.stderr).toBe(`error: --port / dashboard.port: expected a free port, got ${port} (in use)\n`);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(existsSync(join(dir, 'run'))).toBe(false);
      // The Foxglove port the same way.
      const foxglove = await runCliAsync(['serve', '--port', '0', '--foxglove-port', String(port), '--config', file], { timeoutMs: 15_000 });
      expect(foxglove.stderr).toBe(`error: --foxglove-port: expected a free port, got ${port} (in use)\n`);
      expect(foxglove.code).toBe(2);
      expect(existsSync(join(dir, 'run'))).toBe(false);
    } finally {
      await new Promise((resolve) => occupier.close(resolve));
    }
  });

  it.skipIf(process.env.ROS_DISTRO !== undefined)('refuses the ros2 backend without rclnodejs, saying how to install it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dopamine-serve-'));
    const file = join(dir, 'lab.yaml');
    writeFileSync(file, 'robot:\n  backend: ros2\n');
    const run = runCli(['serve', '--port', '0', '--config', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/robot\.backend ros2: rclnodejs is not available: .*Humble, Jazzy or Kilted/);
  });

  it('refuses a --model that is neither a file nor a URL with exit code 2', () => {
    const run = runCli(['serve', '--port', '0', '--model', 'no-such-model.onnx']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--model: expected an \.onnx reward model file or an http\(s\) URL, got "no-such-model\.onnx"/);
  });

  it('prints the dashboard URL with the token, runs the loop, and on SIGTERM stops the arm before exiting', async () => {
    // The learner's folder goes to a temporary directory, not the repository's runs/.
    const dir = mkdtempSync(join(tmpdir(), 'dopamine-serve-'));
    const file = join(dir, 'serve.yaml');
    writeFileSync(file, `policy:\n  runDir: ${JSON.stringify(join(dir, 'run'))}\n  demos: 0\n`);
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--config', file], { cwd: repoRoot, env: { ...process.env, DOPAMINE_LOG: 'info' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (!/dashboard: (http:\/\/127\.0\.0\.1:\d+\/)#token=(\S+)/.test(stdout)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no URL printed: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const [, url, token] = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)#token=(\S+)/.exec(stdout)!;
      expect(stderr).toMatch(/robot: MuJoCo simulator, task "push-cube"/);
      expect(stderr).toMatch(/reward model: onnx .*grm-tiny\.onnx/);
      expect((await fetch(`${url}api/estop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
      let status: { state: string; safety: { counts: { forwarded: number } } } | undefined;
      while (!status || status.safety.counts.forwarded < 3) {
        if (Date.now() > deadline) throw new Error('the loop did not run');
        const response = await fetch(`${url}api/status`, { headers: { authorization: `Bearer ${token}` } });
        status = (await response.json()) as typeof status;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status.state).toBe('running');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/E-STOP from shutdown: received SIGTERM/);
      // The arm is stopped before the servers close.
      expect(stderr.indexOf('E-STOP from shutdown')).toBeLessThan(stderr.indexOf('arm stopped, dashboard closed'));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
