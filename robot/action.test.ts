import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkAction, clipAction, clipToWorkspace, type ActionBounds } from './action.js';

const bounds: ActionBounds = { maxStepM: 0.03, maxYawStepRad: 0.1, workspaceMin: [0.25, -0.3, 0.02], workspaceMax: [0.75, 0.3, 0.45] };

describe('checkAction', () => {
  it('accepts an ArmAction and a vector of five numbers', () => {
    expect(checkAction({ dx: 0.01, dy: 0, dz: -0.01, dyaw: 0.05, gripper: 1 })).toEqual({ dx: 0.01, dy: 0, dz: -0.01, dyaw: 0.05, gripper: 1 });
    expect(checkAction([0.01, 0.02, 0.03, 0.04, 0.5])).toEqual({ dx: 0.01, dy: 0.02, dz: 0.03, dyaw: 0.04, gripper: 0.5 });
    expect(checkAction(Float32Array.of(0, 0, 0, 0, 1)).gripper).toBe(1);
  });

  it('refuses a vector of the wrong length, NaN, infinities, missing fields and non-actions', () => {
    expect(() => checkAction([0, 0, 0, 0])).toThrow(/expected 5 numbers.*got 4/);
    expect(() => checkAction([0, 0, 0, 0, 0, 0])).toThrow(RangeError);
    expect(() => checkAction([0, Number.NaN, 0, 0, 0])).toThrow(/action\.dy: expected a finite number, got NaN/);
    expect(() => checkAction({ dx: 0, dy: 0, dz: Infinity, dyaw: 0, gripper: 0 })).toThrow(/action\.dz/);
    expect(() => checkAction({ dx: 0, dy: 0, dz: 0, dyaw: 0 })).toThrow(/action\.gripper: expected a finite number, got undefined/);
    expect(() => checkAction({ dx: '0', dy: 0, dz: 0, dyaw: 0, gripper: 0 })).toThrow(/action\.dx/);
    expect(() => checkAction(null)).toThrow(RangeError);
    expect(() => checkAction(3)).toThrow(RangeError);
  });
});

describe('clipAction', () => {
  it('keeps every step inside the caps and the direction of the translation', () => {
    const big = fc.double({ min: -10, max: 10, noNaN: true });
    fc.assert(
      fc.property(big, big, big, big, big, (dx, dy, dz, dyaw, gripper) => {
        const c = clipAction({ dx, dy, dz, dyaw, gripper }, bounds);
        expect(Math.hypot(c.dx, c.dy, c.dz)).toBeLessThanOrEqual(bounds.maxStepM + 1e-12);
        expect(Math.abs(c.dyaw)).toBeLessThanOrEqual(bounds.maxYawStepRad);
        expect(c.gripper).toBeGreaterThanOrEqual(0);
        expect(c.gripper).toBeLessThanOrEqual(1);
        // Same direction: the clipped translation is a non-negative multiple of the original.
        expect(c.dx * dy - c.dy * dx).toBeCloseTo(0, 9);
        expect(c.dx * dx).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('leaves actions inside the caps unchanged', () => {
    const a = { dx: 0.01, dy: -0.01, dz: 0.005, dyaw: -0.05, gripper: 0.3 };
    expect(clipAction(a, bounds)).toEqual(a);
  });

  it('clips positions into the workspace box', () => {
    expect(clipToWorkspace([0, 1, -1], bounds)).toEqual([0.25, 0.3, 0.02]);
    expect(clipToWorkspace([0.5, 0, 0.2], bounds)).toEqual([0.5, 0, 0.2]);
  });
});
