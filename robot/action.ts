/**
 * Checking and bounding arm actions. Every robot back-end runs actions through here, so a policy
 * bug (a NaN, a vector of the wrong length, a step far too large) is caught at the interface.
 */
import { ACTION_SIZE, type ArmAction } from './types.js';

export interface ActionBounds {
  /** Largest end-effector translation per control step (Euclidean norm), metres. */
  maxStepM: number;
  /** Largest yaw change per control step, radians. */
  maxYawStepRad: number;
  /** End-effector box [x, y, z], metres. */
  workspaceMin: readonly [number, number, number];
  workspaceMax: readonly [number, number, number];
}

const FIELDS = ['dx', 'dy', 'dz', 'dyaw', 'gripper'] as const;

/**
 * Accepts an ArmAction or a vector of ACTION_SIZE numbers; anything else, or any value that is not
 * a finite number, throws a RangeError naming what was wrong.
 */
export function checkAction(action: unknown): ArmAction {
  let values: unknown[];
  if (Array.isArray(action) || ArrayBuffer.isView(action)) {
    values = Array.from(action as ArrayLike<unknown>);
    if (values.length !== ACTION_SIZE) {
      throw new RangeError(`action: expected ${ACTION_SIZE} numbers [${FIELDS.join(', ')}], got ${values.length}`);
    }
  } else if (typeof action === 'object' && action !== null) {
    const record = action as Record<string, unknown>;
    values = FIELDS.map((field) => record[field]);
  } else {
    throw new RangeError(`action: expected an object {${FIELDS.join(', ')}} or ${ACTION_SIZE} numbers, got ${String(action)}`);
  }
  values.forEach((value, i) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new RangeError(`action.${FIELDS[i]}: expected a finite number, got ${String(value)}`);
    }
  });
  const [dx, dy, dz, dyaw, gripper] = values as number[];
  return { dx: dx!, dy: dy!, dz: dz!, dyaw: dyaw!, gripper: gripper! };
}

/** Scales the translation down to maxStepM (keeping its direction), clips yaw and gripper. */
export function clipAction(action: ArmAction, bounds: ActionBounds): ArmAction {
  const norm = Math.hypot(action.dx, action.dy, action.dz);
  const scale = norm > bounds.maxStepM ? bounds.maxStepM / norm : 1;
  return {
    dx: action.dx * scale,
    dy: action.dy * scale,
    dz: action.dz * scale,
    dyaw: Math.max(-bounds.maxYawStepRad, Math.min(bounds.maxYawStepRad, action.dyaw)),
    gripper: Math.max(0, Math.min(1, action.gripper)),
  };
}

/** Clips an end-effector position into the workspace box. */
export function clipToWorkspace(position: readonly [number, number, number], bounds: ActionBounds): [number, number, number] {
  return [0, 1, 2].map((axis) => Math.max(bounds.workspaceMin[axis]!, Math.min(bounds.workspaceMax[axis]!, position[axis]!))) as [
    number,
    number,
    number,
  ];
}
