/**
 * Where `serve` (and every loop) gets its robot: the embedded MuJoCo simulator by default. The
 * ROS 2 bridge joins here when it lands; until then `ros2` is refused as bad input.
 */
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import { SimRobot } from './sim/robot.js';
import type { Robot } from './types.js';

export async function createRobot(config: Config, log: Logger): Promise<Robot> {
  switch (config.robot.backend) {
    case 'ros2':
      throw new InputError('robot.backend', 'expected sim (the ROS 2 bridge is not built yet), got "ros2"');
    case 'sim': {
      const robot = await SimRobot.create(config);
      log.info(`robot: MuJoCo simulator, task "${config.robot.task}", ${config.cameras.width}x${config.cameras.height} cameras`);
      return robot;
    }
  }
}
