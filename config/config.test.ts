import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.js';
import { loadConfig, parseConfig } from './load.js';
import { configReferenceMarkdown } from './reference.js';

describe('configuration', () => {
  it('describes the embedded simulator by default', () => {
    const config = loadConfig();
    expect(config.robot.backend).toBe('sim');
    expect(config.cameras.views.map((v) => v.role)).toEqual(['front', 'left_wrist', 'right_wrist']);
    expect(config.reward.shaping).toMatchObject({ mode: 'pbrs', successDelta: 0.05, terminalPotential: 0 });
    expect(config.dashboard.host).toBe('127.0.0.1');
  });

  it('keeps defaults beside the keys a file sets', () => {
    const config = parseConfig({ reward: { fusion: { alpha: 5 } } }, 'test');
    expect(config.reward.fusion).toMatchObject({ alpha: 5, mode: 'paper', eps: 1e-3 });
  });

  it.each([
    [{ reward: { fusion: { alpha: 'x' } } }, 'reward.fusion.alpha: expected number, got "x"'],
    [{ robot: { backend: 'gazebo' } }, 'robot.backend: expected one of "sim", "ros2", got "gazebo"'],
    [{ cameras: { views: [{ role: 'top', name: 'a' }] } }, 'cameras.views[0].role: expected one of'],
    [{ policy: { batchSize: 0 } }, 'policy.batchSize: expected > 0, got 0'],
    [{ safety: { workspaceMin: [1, 0, 0] } }, 'safety.workspaceMin[0]: expected below safety.workspaceMax[0]'],
    [{ dashbord: {} }, 'dashbord: unknown key (expected one of robot, cameras'],
    [{ robot: { controlHz: 10 }, safety: { actorTimeoutMs: 50 } }, 'safety.actorTimeoutMs: expected at least the control period, 100 ms (1000 / robot.controlHz 10), got 50'],
    // The default timeout (1000 ms) at a slow control rate.
    [{ robot: { controlHz: 0.5 } }, 'safety.actorTimeoutMs: expected at least the control period, 2000 ms (1000 / robot.controlHz 0.5), got 1000'],
  ])('refuses %j with the key path', (input, message) => {
    expect(() => parseConfig(input, 'file.yaml')).toThrow(InputError);
    expect(() => parseConfig(input, 'file.yaml')).toThrow(message);
  });

  it('keeps docs/configuration.md in step with the schema', () => {
    const committed = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    expect(committed, 'run `npm run docs:config` after changing config/schema.ts').toBe(configReferenceMarkdown());
  });
});
