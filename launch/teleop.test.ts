import { describe, expect, it } from 'vitest';
import { Intervention, parseTeleop, teleopAction, TELEOP_TIMEOUT_MS } from './teleop.js';

const policy = { dx: 0.01, dy: 0, dz: 0, dyaw: 0, gripper: 1 };

describe('teleop commands', () => {
  it('reads a command and names what is wrong with a bad one', () => {
    expect(parseTeleop({ translation: [0.1, 0, -0.05], yaw: 0.2, gripper: 'closed' })).toEqual({ translation: [0.1, 0, -0.05], yaw: 0.2, gripper: 'closed' });
    expect(parseTeleop({ translation: [0.1, 0], yaw: 0, gripper: 'open' })).toMatch(/^translation: expected three finite numbers/);
    expect(parseTeleop({ translation: [0, 0, null], yaw: 0, gripper: 'open' })).toMatch(/^translation/);
    expect(parseTeleop({ translation: [0, 0, 0], yaw: 'fast', gripper: 'open' })).toMatch(/^yaw: expected a finite number/);
    expect(parseTeleop({ translation: [0, 0, 0], yaw: 0, gripper: 0.5 })).toMatch(/^gripper: expected "open" or "closed"/);
    expect(parseTeleop(null)).toMatch(/^expected an object/);
  });

  it('turns velocities into one control step of deltas', () => {
    expect(teleopAction({ translation: [0.1, -0.2, 0.05], yaw: 0.5, gripper: 'closed' }, 10)).toEqual({ dx: 0.01, dy: -0.02, dz: 0.005, dyaw: 0.05, gripper: 1 });
    expect(teleopAction({ translation: [0, 0, 0], yaw: 0, gripper: 'open' }, 20).gripper).toBe(0);
  });
});

describe('an intervention', () => {
  it('passes the policy through until it starts, and ignores commands outside one', () => {
    const intervention = new Intervention();
    expect(intervention.teleop({ translation: [0.1, 0, 0], yaw: 0, gripper: 'open' }, 0)).toBe(false);
    expect(intervention.action(policy, 0, 10)).toEqual({ action: policy, origin: 'policy' });
  });

  it('uses the newest command, holds (keeping the gripper) when none came within the timeout, and ends', () => {
    const intervention = new Intervention();
    intervention.action(policy, 0, 10); // the policy closed the gripper
    expect(intervention.set(true, 'test', 0)).toBe(true);
    expect(intervention.set(true, 'test', 0)).toBe(false);
    // Taken over, no command yet: hold, the gripper stays closed.
    expect(intervention.action(policy, 10, 10)).toEqual({ action: { dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: 1 }, origin: 'hold' });
    expect(intervention.teleop({ translation: [0, 0.1, 0], yaw: 0, gripper: 'open' }, 100)).toBe(true);
    expect(intervention.action(policy, 100 + TELEOP_TIMEOUT_MS, 10)).toEqual({ action: { dx: 0, dy: 0.01, dz: 0, dyaw: 0, gripper: 0 }, origin: 'operator' });
    // Commands stopped: after the timeout the arm holds with the operator's last gripper.
    expect(intervention.action(policy, 101 + TELEOP_TIMEOUT_MS, 10)).toEqual({ action: { dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: 0 }, origin: 'hold' });
    expect(intervention.set(false, 'test', 700)).toBe(true);
    expect(intervention.action(policy, 710, 10).origin).toBe('policy');
  });
});
