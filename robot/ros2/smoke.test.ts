import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/testing.js';
import { createLogger } from '../../common/log.js';
import { configSchema } from '../../config/schema.js';
import { FakeRosNode } from './fake-node.js';
import { tryLoadRclnodejs } from './rclnodejs.js';
import { runSmoke } from './smoke.js';

const log = createLogger('test', 'silent');
const fastSleep = async (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ros2 smoke', () => {
  it('passes every bridge check over a loopback graph and reports the lab graph', async () => {
    const node = new FakeRosNode({ loopback: true });
    node.offline.add('/gripper_controller/gripper_cmd');
    const report = await runSmoke(node, configSchema.parse({ robot: { backend: 'ros2' } }), log, { sleep: fastSleep });
    expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
      ['cameras', true],
      ['arm state', true],
      ['compressed', true],
      ['servo twist', true],
      ['progress topics', true],
      ['heartbeat', true],
    ]);
    expect(report.ok).toBe(true);
    const lab = Object.fromEntries(report.lab.map((c) => [c.name, c.ok]));
    expect(lab['/cam_high/image_raw']).toBe(false); // nothing of the lab's on the fake graph
    expect(lab['/joint_trajectory_controller/follow_joint_trajectory']).toBe(true);
    expect(lab['/gripper_controller/gripper_cmd']).toBe(false);
    expect(lab['/controller_manager/switch_controller']).toBe(true);
  });

  it('fails the checks whose messages never come back', async () => {
    const node = new FakeRosNode({ loopback: false });
    const report = await runSmoke(node, configSchema.parse({ robot: { backend: 'ros2' } }), log, { sleep: fastSleep, timeoutMs: 50 });
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'cameras')!.detail).toMatch(/no synchronised set/);
    expect(report.checks.find((c) => c.name === 'servo twist')!.ok).toBe(false);
  });
});

describe.skipIf(process.env.ROS_DISTRO !== undefined)('ros2 commands without ROS 2', () => {
  it('ros2 check reports what is missing and exits 2 with how to install it', async () => {
    if ((await tryLoadRclnodejs()).module !== undefined) return;
    const human = runCli(['ros2', 'check']);
    expect(human.code).toBe(2);
    expect(human.stdout).toMatch(/ROS_DISTRO: \(unset\)/);
    expect(human.stderr).toMatch(/error: ros2: rclnodejs is not available: .*Humble, Jazzy or Kilted.*npm install --no-save rclnodejs@2/);
    const json = runCli(['ros2', 'check', '--json']);
    expect(json.code).toBe(2);
    const report = JSON.parse(json.stdout) as { available: boolean; interfaces: { type: string }[] };
    expect(report.available).toBe(false);
    expect(report.interfaces.map((i) => i.type)).toContain('control_msgs/action/FollowJointTrajectory');
    const smoke = runCli(['ros2', 'smoke']);
    expect(smoke.code).toBe(2);
    expect(smoke.stderr).toMatch(/npm install --no-save rclnodejs@2/);
  });
});
