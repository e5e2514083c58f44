import { describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import { createRobot } from './factory.js';
import { SimRobot } from './sim/robot.js';

const log = createLogger('test', 'silent');

describe('createRobot', () => {
  it.skipIf(process.env.ROS_DISTRO !== undefined)('refuses the ros2 backend without rclnodejs as bad input that says how to install it', async () => {
    const config = configSchema.parse({ robot: { backend: 'ros2' } });
    await expect(createRobot(config, log)).rejects.toBeInstanceOf(InputError);
    await expect(createRobot(config, log)).rejects.toThrow(/npm install --no-save rclnodejs@2/);
  });

  it('gives the MuJoCo simulator for sim, with the configured task, rate and image size', async () => {
    const config = configSchema.parse({ robot: { controlHz: 20, task: 'press-button' }, cameras: { width: 64, height: 48 } });
    const robot = await createRobot(config, log);
    expect(robot).toBeInstanceOf(SimRobot);
    expect(robot.controlHz).toBe(20);
    const observation = await robot.reset(0);
    expect(observation.frames.map((f) => [f.role, f.width, f.height, f.rgb.length])).toEqual([
      ['front', 64, 48, 64 * 48 * 3],
      ['left_wrist', 64, 48, 64 * 48 * 3],
      ['right_wrist', 64, 48, 64 * 48 * 3],
    ]);
    await robot.close();
  });
});
