import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './testing.js';

const dir = mkdtempSync(join(tmpdir(), 'dopamine-cli-'));
function yamlFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('dopamine CLI frame', () => {
  it('lists the sub-commands in --help', () => {
    const run = runCli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Usage: dopamine/);
    expect(run.stdout).toMatch(/\bconfig\b/);
    expect(run.stdout).toMatch(/\bserve\b/);
  });

  it('gives every sub-command its own --help, and --config on each', () => {
    const top = runCli(['--help']).stdout;
    const names = [...top.matchAll(/^ {2}([a-z0-9-]+)[ [|]/gm)].map((m) => m[1]!).filter((n) => n !== 'help');
    expect(names.length).toBeGreaterThanOrEqual(2);
    for (const name of names) {
      const run = runCli([name, '--help']);
      expect(run.code, name).toBe(0);
      expect(run.stdout, name).toContain(`Usage: dopamine ${name}`);
    }
    expect(runCli(['config', '--help']).stdout).toContain('--config <file>');
    // One process per sub-command (a dozen), each loading the whole program: more than the default timeout.
  }, 240_000);

  it('prints the defaults as one JSON document with --json', () => {
    const run = runCli(['config', '--print', '--json']);
    expect(run.code).toBe(0);
    const config = JSON.parse(run.stdout) as Record<string, Record<string, unknown>>;
    expect(config.robot!.backend).toBe('sim');
    expect((config.reward!.shaping as Record<string, unknown>).mode).toBe('pbrs');
  });

  it('applies a YAML file on top of the defaults', () => {
    const file = yamlFile('ok.yaml', 'reward:\n  shaping:\n    gamma: 0.98\n');
    const run = runCli(['config', '--print', '--json', '--config', file]);
    expect(run.code).toBe(0);
    const config = JSON.parse(run.stdout) as { reward: { shaping: { gamma: number; mode: string } } };
    expect(config.reward.shaping).toMatchObject({ gamma: 0.98, mode: 'pbrs' });
  });

  it('prints neither the MQTT password nor the dashboard token, in YAML or JSON', () => {
    const file = yamlFile('secrets.yaml', 'dashboard:\n  token: dashboard-token-4f9c2a71\nmqtt:\n  url: mqtt://robot:broker-pw-8d1e@broker.lab:1883\n');
    for (const json of [[], ['--json']]) {
      const run = runCli(['config', '--print', ...json, '--config', file]);
      expect(run.code).toBe(0);
      expect(run.stdout).not.toContain('broker-pw-8d1e');
      expect(run.stdout).not.toContain('dashboard-token-4f9c2a71');
      expect(run.stdout).toContain('mqtt://robot:***@broker.lab:1883');
    }
    const config = JSON.parse(runCli(['config', '--print', '--json', '--config', file]).stdout) as { dashboard: { token: string } };
    expect(config.dashboard.token).toBe('***');
  });

  it('refuses a misspelled key with its path, exit 2, one line, no stack', () => {
    const file = yamlFile('typo.yaml', 'reward:\n  fusion:\n    alpah: 20\n');
    const run = runCli(['config', '--print', '--config', file]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('reward.fusion.alpah: unknown key');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a wrong type naming the key, the expected type and the value', () => {
    const file = yamlFile('type.yaml', 'reward:\n  fusion:\n    alpha: x\n');
    const run = runCli(['config', '--print', '--config', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('reward.fusion.alpha: expected number, got "x"');
  });

  it('exits 2 on a missing config file, invalid YAML, an unknown option and an unknown command', () => {
    const missing = runCli(['config', '--config', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.yaml: config file not found');
    const broken = runCli(['config', '--config', yamlFile('broken.yaml', 'reward: [1,\n')]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/broken\.yaml: expected valid YAML/);
    expect(runCli(['config', '--no-such-flag']).code).toBe(2);
    expect(runCli(['no-such-command']).code).toBe(2);
  });

  it('exits 2 with one line naming the file on a YAML alias bomb and on an alias without its anchor', () => {
    // Nine levels of nine aliases each: 9^9 strings if expanded.
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let k = 1; k < 9; k++) levels.push(`l${k}: &l${k} [${Array(9).fill(k === 1 ? '*a' : `*l${k - 1}`).join(', ')}]`);
    const bomb = runCli(['config', '--print', '--config', yamlFile('bomb.yaml', `${levels.join('\n')}\n`)]);
    expect(bomb.code, bomb.stderr).toBe(2);
    expect(bomb.stderr).toMatch(/^error: \S*bomb\.yaml: expected a configuration document, got a YAML document with too many aliases \(more than 100 expanded, an alias bomb\?\)\n$/);
    const dangling = runCli(['config', '--print', '--config', yamlFile('dangling.yaml', 'reward: *nowhere\n')]);
    expect(dangling.code, dangling.stderr).toBe(2);
    expect(dangling.stderr).toMatch(/^error: \S*dangling\.yaml: expected valid YAML, got unresolved alias .*: nowhere\n$/);
  });
});
