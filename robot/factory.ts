/**
 * Where `serve` gets its robot. The MuJoCo simulator (issue 5) and the ROS 2 bridge replace the
 * branches below when they are merged; until then `sim` gives the kinematic TEST robot and says
 * so loudly. `ros2` is the lab arm through rclnodejs (refused with how to install it when absent).
 */
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import { KinematicTestRobot, TEST_ROBOT_LABEL } from './testing.js';
import type { Robot } from './types.js';

export async function createRobot(config: Config, log: Logger): Promise<Robot> {
  switch (config.robot.backend) {
    case 'ros2': {
      // Loaded here: rclnodejs is optional, and the bridge fails with how to install it when absent.
      const { createRos2Robot } = await import('./ros2/robot.js');
      return await createRos2Robot(config, log);
    }
    case 'sim':
      log.warn(`robot: ${TEST_ROBOT_LABEL}: a kinematic point, NOT the MuJoCo simulator; task "${config.robot.task}" is not simulated`);
      return new KinematicTestRobot({
        controlHz: config.robot.controlHz,
        episodeSteps: Math.max(1, Math.round(config.robot.episodeSeconds * config.robot.controlHz)),
        width: config.cameras.width,
        height: config.cameras.height,
        views: config.cameras.views.map((view) => ({ role: view.role, name: view.name })),
        boxMin: config.safety.workspaceMin,
        boxMax: config.safety.workspaceMax,
      });
  }
}
