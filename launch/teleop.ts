/**
 * Operator interventions (issue 33, as HIL-SERL does them): while one is active the operator's
 * teleop command replaces the policy's action, through the same safety layer. Commands are
 * velocities, as a SpaceMouse or joystick (geometry_msgs/Twist) gives them:
 *
 *   {"translation": [vx, vy, vz] (m/s, base frame), "yaw": r (rad/s), "gripper": "open" | "closed"}
 *
 * The run loop turns the newest command into one control step's deltas. A command older than
 * TELEOP_TIMEOUT_MS (a dropped connection, a released key pad) makes the arm hold: no motion,
 * the gripper as last commanded.
 */
import type { ArmAction, TeleopCommand } from '../robot/types.js';

export type { TeleopCommand };

/** Commands older than this during an intervention: the arm holds. */
export const TELEOP_TIMEOUT_MS = 500;

/** Where a control step's action came from: the policy, the operator's command, or a hold (no fresh command). */
export type ActionOrigin = 'policy' | 'operator' | 'hold';

/** Reads a teleop command from parsed JSON; a string says what was wrong. */
export function parseTeleop(value: unknown): TeleopCommand | string {
  if (value === null || typeof value !== 'object') return `expected an object {"translation": [vx, vy, vz], "yaw": r, "gripper": "open"|"closed"}, got ${JSON.stringify(value)}`;
  const { translation, yaw, gripper } = value as Record<string, unknown>;
  if (!Array.isArray(translation) || translation.length !== 3 || !translation.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    return `translation: expected three finite numbers [vx, vy, vz] in m/s, got ${JSON.stringify(translation)}`;
  }
  if (typeof yaw !== 'number' || !Number.isFinite(yaw)) return `yaw: expected a finite number in rad/s, got ${JSON.stringify(yaw)}`;
  if (gripper !== 'open' && gripper !== 'closed') return `gripper: expected "open" or "closed", got ${JSON.stringify(gripper)}`;
  return { translation: [translation[0], translation[1], translation[2]] as [number, number, number], yaw, gripper };
}

/** One control step's action for a command at the control rate (the safety layer clips it to its caps). */
export function teleopAction(command: TeleopCommand, controlHz: number): ArmAction {
  const [vx, vy, vz] = command.translation;
  return { dx: vx / controlHz, dy: vy / controlHz, dz: vz / controlHz, dyaw: command.yaw / controlHz, gripper: command.gripper === 'closed' ? 1 : 0 };
}

/** The command back from an action at the control rate (the scripted operator speaks teleop too). */
export function actionAsTeleop(action: ArmAction, controlHz: number): TeleopCommand {
  return { translation: [action.dx * controlHz, action.dy * controlHz, action.dz * controlHz], yaw: action.dyaw * controlHz, gripper: action.gripper >= 0.5 ? 'closed' : 'open' };
}

/** The state of interventions in one run: active or not, and the newest command with its time. */
export class Intervention {
  private activeSince: number | null = null;
  private command: { value: TeleopCommand; at: number } | null = null;
  private gripper = 0;
  source = '';

  get active(): boolean {
    return this.activeSince !== null;
  }

  /** Starts (true) or ends (false) an intervention; false when nothing changed. */
  set(active: boolean, source: string, now: number): boolean {
    if (active === this.active) return false;
    this.activeSince = active ? now : null;
    this.command = null;
    this.source = active ? source : '';
    return true;
  }

  /** Keeps the newest command; false (ignored) when no intervention is active. */
  teleop(command: TeleopCommand, now: number): boolean {
    if (!this.active) return false;
    this.command = { value: command, at: now };
    return true;
  }

  /**
   * The action that replaces the policy's this step, with where it came from: the newest command,
   * or a hold when none arrived within TELEOP_TIMEOUT_MS. The policy's own gripper target stands
   * until the operator's first command (a hold does not drop what the hand carries).
   */
  action(policy: ArmAction, now: number, controlHz: number): { action: ArmAction; origin: ActionOrigin } {
    if (!this.active) {
      this.gripper = policy.gripper;
      return { action: policy, origin: 'policy' };
    }
    const fresh = this.command !== null && now - this.command.at <= TELEOP_TIMEOUT_MS;
    if (!fresh) return { action: { dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: this.gripper }, origin: 'hold' };
    const action = teleopAction(this.command!.value, controlHz);
    this.gripper = action.gripper;
    return { action, origin: 'operator' };
  }
}
