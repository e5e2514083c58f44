/**
 * Where `serve` gets its robot. The MuJoCo simulator (issue 5) and the ROS 2 bridge replace the
 * branches below when they are merged; until then `sim` gives the kinematic TEST robot and says
 * so loudly, and `ros2` is refused.
 */
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import { KinematicTestRobot, TEST_ROBOT_LABEL } from './testing.js';
import type { Robot } from './types.js';

export async function createRobot(config: Config, log: Logger): Promise<Robot> {
  switch (config.robot.backend) {
    case 'ros2':
      throw new InputError('robot.backend', 'expected sim (the ROS 2 bridge is not built yet), got "ros2"');
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
