import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../cli/testing.js';
import { launchConfig, launchPlan, parseLaunch, readLaunch } from './description.js';

const examples = fileURLToPath(new URL('./examples/', import.meta.url));
const configExamples = fileURLToPath(new URL('../config/examples/', import.meta.url));
const bin = fileURLToPath(new URL('../bin/dopamine.js', import.meta.url));

function launchFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dopamine-launch-'));
  const file = join(dir, 'test.launch.yaml');
  writeFileSync(file, text);
  return file;
}

describe('launch descriptions', () => {
  it('the example files validate into run configurations for the simulator and ROS 2', () => {
    const simFile = join(examples, 'sim.launch.yaml');
    const sim = launchConfig(readLaunch(simFile), simFile);
    expect(sim.robot.backend).toBe('sim');
    expect(sim.cameras.sync).toEqual({ queueSize: 10, slopMs: 50 });
    const rosFile = join(examples, 'ros2.launch.yaml');
    const launch = readLaunch(rosFile);
    const ros = launchConfig(launch, rosFile);
    expect(ros.robot.backend).toBe('ros2');
    expect(ros.robot.ros2.cameraTransport).toBe('compressed'); // settings over the config file
    expect(ros.robot.ros2.jointNames).toHaveLength(6); // from config/examples/ros2-lab.yaml
    expect(ros.reward.shaping.gamma).toBe(0.98);
    expect(ros.cameras.sync.slopMs).toBe(40); // from the camera_sync node
    expect(ros.dashboard.host).toBe('0.0.0.0');
    const plan = launchPlan(launch, ros);
    expect(plan.nodes.map((n) => n.node)).toEqual(['robot', 'safety', 'camera_sync', 'reward', 'actor', 'learner', 'dashboard']);
    expect(plan.nodes[2]!.ros2!.subscribes).toContain('/cam_high/image_raw/compressed');
    expect(plan.nodes[0]!.ros2!.actions).toEqual(['/joint_trajectory_controller/follow_joint_trajectory', '/gripper_controller/gripper_cmd']);
  });

  it('every file among the launch examples is a launch description that plans, every configuration example loads', () => {
    const launches = readdirSync(examples);
    expect(launches.length).toBeGreaterThanOrEqual(2);
    for (const name of launches) {
      expect(name, 'launch descriptions are named *.launch.yaml').toMatch(/\.launch\.yaml$/);
      const dry = runCli(['launch', join(examples, name), '--dry-run']);
      expect(dry.code, `${name}: ${dry.stderr}`).toBe(0);
      expect(dry.stdout).toMatch(/^launch \S+ on /);
    }
    const configs = readdirSync(configExamples);
    expect(configs).toContain('ros2-lab.yaml');
    for (const name of configs) {
      expect(name, 'configurations are not named *.launch.yaml').not.toMatch(/\.launch\.yaml$/);
      const printed = runCli(['config', '--print', '--config', join(configExamples, name)]);
      expect(printed.code, `${name}: ${printed.stderr}`).toBe(0);
      expect(printed.stdout).toMatch(/^robot:/m);
    }
  });

  it('names the key of every mistake', () => {
    const base = { launch: 1, name: 'x', robot: 'sim' };
    const cases: [unknown, RegExp][] = [
      [{ ...base, robot: 'gazebo' }, /f\.yaml: robot: expected one of "sim"\|"ros2", got "gazebo"|f\.yaml: robot: .*got "gazebo"/],
      [{ ...base, launch: 2 }, /launch: expected 1 \(the launch file format version\), got 2/],
      [{ ...base, nodes: { safety: { enabled: false } } }, /nodes\.safety\.enabled: the safety layer cannot be switched off, got false/],
      [{ ...base, nodes: { planner: {} } }, /nodes\.planner: unknown key/],
      [{ ...base, nodes: { camera_sync: { slopMs: -1 } } }, /nodes\.camera_sync\.slopMs: .*got -1/],
      [{ ...base, name: 'has space' }, /name: expected letters, digits/],
      [['a list'], /expected a mapping/],
    ];
    for (const [doc, message] of cases) expect(() => parseLaunch(doc, 'f.yaml')).toThrow(message);
    const badSettings = launchFile('launch: 1\nname: x\nrobot: sim\nsettings:\n  robot:\n    controlHz: fast\n');
    expect(() => launchConfig(readLaunch(badSettings), badSettings)).toThrow(/test\.launch\.yaml \(settings\): robot\.controlHz: expected number, got "fast"/);
    const missing = launchFile('launch: 1\nname: x\nrobot: sim\nconfig: nowhere.yaml\n');
    expect(() => launchConfig(readLaunch(missing), missing)).toThrow(/nowhere\.yaml: config file not found/);
  });

  it('dopamine launch --dry-run prints the plan; bad files exit 2 naming the key', () => {
    const dry = runCli(['launch', join(examples, 'ros2.launch.yaml'), '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { robot: string; nodes: { node: string }[]; config: { robot: { backend: string } } };
    expect(plan.robot).toBe('ros2');
    expect(plan.config.robot.backend).toBe('ros2');
    const bad = runCli(['launch', launchFile('launch: 1\nname: x\nrobot: sim\nnodes:\n  safety: {enabled: false}\n'), '--dry-run']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/nodes\.safety\.enabled: the safety layer cannot be switched off/);
  });

  it('dopamine launch runs the simulator description like serve and stops the arm on SIGTERM', async () => {
    // Its own run folder: a serve run left in the checkout's runs/default (another encoder, another task) must not decide this test.
    const file = launchFile('launch: 1\nname: sim-test\nrobot: sim\nconfig: lab.yaml\nnodes:\n  dashboard: {port: 0}\n');
    writeFileSync(join(dirname(file), 'lab.yaml'), `policy:\n  runDir: ${JSON.stringify(join(dirname(file), 'run'))}\n  demos: 0\n`);
    const child = spawn(process.execPath, [bin, 'launch', file], { cwd: repoRoot, env: { ...process.env, DOPAMINE_LOG: 'info' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!stdout.includes('control token') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stdout).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+/);
    expect(stderr).toMatch(/launch sim-test on the embedded simulator/);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/arm stopped, dashboard closed/);
  }, 90_000);
});
