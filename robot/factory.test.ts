import { describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import { createRobot } from './factory.js';
import { TEST_ROBOT_LABEL } from './testing.js';

const log = createLogger('test', 'silent');

describe('createRobot', () => {
  it.skipIf(process.env.ROS_DISTRO !== undefined)('refuses the ros2 backend without rclnodejs as bad input that says how to install it', async () => {
    const config = configSchema.parse({ robot: { backend: 'ros2' } });
    await expect(createRobot(config, log)).rejects.toBeInstanceOf(InputError);
    await expect(createRobot(config, log)).rejects.toThrow(/npm install --no-save rclnodejs@2/);
  });

  it('gives the labelled test robot for sim until the simulator is merged, with the configured cameras', async () => {
    const config = configSchema.parse({ robot: { controlHz: 20 }, cameras: { width: 64, height: 48, views: [{ role: 'front', name: 'top' }] } });
    const robot = await createRobot(config, log);
    expect(robot.name).toBe(TEST_ROBOT_LABEL);
    expect(robot.controlHz).toBe(20);
    const observation = await robot.reset(0);
    expect(observation.frames.map((f) => [f.camera, f.width, f.height, f.rgb.length])).toEqual([['top', 64, 48, 64 * 48 * 3]]);
    await robot.close();
  });
});
