/**
 * Where `serve` (and every loop) gets its robot: the embedded MuJoCo simulator by default, or the
 * lab arm over ROS 2 through rclnodejs (refused with how to install it when absent).
 */
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import { SimRobot } from './sim/robot.js';
import type { Robot } from './types.js';

export async function createRobot(config: Config, log: Logger): Promise<Robot> {
  switch (config.robot.backend) {
    case 'ros2': {
      // Loaded here: rclnodejs is optional, and the bridge fails with how to install it when absent.
      const { createRos2Robot } = await import('./ros2/robot.js');
      return await createRos2Robot(config, log);
    }
    case 'sim': {
      const robot = await SimRobot.create(config);
      log.info(`robot: MuJoCo simulator, task "${config.robot.task}", ${config.cameras.width}x${config.cameras.height} cameras`);
      return robot;
    }
  }
}
