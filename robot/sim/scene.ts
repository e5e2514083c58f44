/**
 * The tabletop scene as MJCF text: a table whose top is the plane z = 0 of the robot base frame,
 * a gantry-style arm (slide joints x, y, z and a yaw hinge in one "hand" body, so the joint
 * positions are the end-effector pose) with a two-finger parallel gripper, three cameras, and the
 * objects of one task. No external assets: every shape is a MuJoCo primitive.
 *
 * The end-effector point is the centre between the fingertips (site "ee"), at the hand body's origin.
 */

export type Vec3 = [number, number, number];

/** Where the hand starts each episode: above the middle of the workspace. */
export const HOME: Vec3 = [0.42, 0, 0.22];
/** Finger joint travel: each finger slides from 0 (closed, touching) to this (open), metres. */
export const FINGER_TRAVEL = 0.045;
/** Largest force each finger squeezes with, newtons. */
export const FINGER_FORCE = 12;
/** Table top half-extents (x, y) around its centre (0.5, 0). */
export const TABLE_CENTRE: [number, number] = [0.5, 0];
export const TABLE_HALF: [number, number] = [0.42, 0.45];

/** A camera as `xyaxes` from a position and a point to look at (MuJoCo cameras look along -z). */
function lookAt(pos: Vec3, target: Vec3, up: Vec3 = [0, 0, 1]): string {
  const f = normalise(sub(target, pos));
  const right = normalise(cross(f, up));
  const camUp = cross(right, f);
  return `pos="${fmt(pos)}" xyaxes="${fmt(right)} ${fmt(camUp)}"`;
}

function sub(a: Vec3, b: Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}
function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
function normalise(a: Vec3): Vec3 {
  const n = Math.hypot(a[0], a[1], a[2]);
  return [a[0] / n, a[1] / n, a[2] / n];
}
export function fmt(values: readonly number[]): string {
  return values.map((v) => Number(v.toFixed(5))).join(' ');
}

/** The MuJoCo camera names, one per reward-model role. */
export const SIM_CAMERAS = { front: 'front', left_wrist: 'left_wrist', right_wrist: 'right_wrist' } as const;

export interface SceneOptions {
  physicsStepS: number;
  /** MJCF bodies of the task, placed inside <worldbody>. */
  objectsXml: string;
  /** Body pairs that never collide (a drawer inside its cabinet). */
  contactExcludes?: ReadonlyArray<readonly [string, string]>;
}

export function sceneXml(options: SceneOptions): string {
  const [tx, ty] = TABLE_CENTRE;
  const [hx, hy] = TABLE_HALF;
  return `<mujoco model="dopamine-tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="${options.physicsStepS}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <default>
    <geom friction="1 0.005 0.0001" solref="0.004 1" condim="4"/>
    <default class="visual"><geom contype="0" conaffinity="0" group="1"/></default>
    <default class="finger"><geom friction="2 0.01 0.0002" condim="6" rgba="0.25 0.25 0.28 1"/></default>
    <position ctrllimited="true" forcelimited="true"/>
  </default>
  <worldbody>
    <light pos="0.6 0.4 1.5" dir="-0.2 -0.3 -1"/>
    <geom name="floor" type="plane" pos="0 0 -0.74" size="3 3 0.1" rgba="0.55 0.55 0.58 1"/>
    <geom name="wall" class="visual" type="box" pos="1.6 0 0.2" size="0.02 3 1.2" rgba="0.78 0.8 0.84 1"/>
    <geom name="table" type="box" pos="${fmt([tx, ty, -0.02])}" size="${fmt([hx, hy, 0.02])}" rgba="0.72 0.58 0.42 1"/>
    <geom name="gantry_beam" class="visual" type="box" pos="0.0 0 0.55" size="0.04 0.5 0.03" rgba="0.3 0.32 0.36 1"/>
    <camera name="${SIM_CAMERAS.front}" fovy="52" ${lookAt([0.98, 0, 0.58], [0.46, 0, 0.0])}/>
    <body name="hand" pos="0 0 0" gravcomp="1">
      <joint name="x" type="slide" axis="1 0 0" range="0.1 0.9" damping="40" armature="0.5"/>
      <joint name="y" type="slide" axis="0 1 0" range="-0.45 0.45" damping="40" armature="0.5"/>
      <joint name="z" type="slide" axis="0 0 1" range="-0.02 0.6" damping="40" armature="0.5"/>
      <joint name="yaw" type="hinge" axis="0 0 1" range="-3.2 3.2" damping="1" armature="0.05"/>
      <site name="ee" pos="0 0 0" size="0.004" rgba="1 0 0 0"/>
      <geom name="palm" type="box" pos="0 0 0.058" size="0.015 0.04 0.008" rgba="0.2 0.22 0.26 1" mass="0.3"/>
      <geom name="wrist" class="visual" type="cylinder" pos="0 0 0.09" size="0.016 0.025" rgba="0.85 0.45 0.1 1" mass="0.2"/>
      <geom name="forearm" class="visual" type="box" pos="0 0 0.34" size="0.018 0.018 0.23" rgba="0.3 0.32 0.36 1" mass="0.2"/>
      <camera name="${SIM_CAMERAS.left_wrist}" fovy="70" ${lookAt([-0.08, 0.07, 0.1], [0.07, 0.0, -0.03])}/>
      <camera name="${SIM_CAMERAS.right_wrist}" fovy="70" ${lookAt([-0.08, -0.07, 0.1], [0.07, 0.0, -0.03])}/>
      <body name="finger_left" gravcomp="1">
        <joint name="finger_left" type="slide" axis="0 1 0" range="0 ${FINGER_TRAVEL}" damping="5" armature="0.05"/>
        <geom name="finger_left" class="finger" type="box" pos="0 0.006 0.024" size="0.011 0.006 0.026" mass="0.05"/>
      </body>
      <body name="finger_right" gravcomp="1">
        <joint name="finger_right" type="slide" axis="0 -1 0" range="0 ${FINGER_TRAVEL}" damping="5" armature="0.05"/>
        <geom name="finger_right" class="finger" type="box" pos="0 -0.006 0.024" size="0.011 0.006 0.026" mass="0.05"/>
      </body>
    </body>
${options.objectsXml}
  </worldbody>
  <contact>
    <exclude body1="hand" body2="finger_left"/>
    <exclude body1="hand" body2="finger_right"/>
    <exclude body1="finger_left" body2="finger_right"/>
    ${(options.contactExcludes ?? []).map(([a, b]) => `<exclude body1="${a}" body2="${b}"/>`).join('\n    ')}
  </contact>
  <actuator>
    <position name="x" joint="x" kp="10000" kv="190" ctrlrange="0.1 0.9" forcerange="-300 300"/>
    <position name="y" joint="y" kp="10000" kv="190" ctrlrange="-0.45 0.45" forcerange="-300 300"/>
    <position name="z" joint="z" kp="10000" kv="190" ctrlrange="-0.02 0.6" forcerange="-300 300"/>
    <position name="yaw" joint="yaw" kp="200" kv="8" ctrlrange="-3.2 3.2" forcerange="-20 20"/>
    <position name="finger_left" joint="finger_left" kp="800" kv="20" ctrlrange="-0.02 ${FINGER_TRAVEL}" forcerange="-${FINGER_FORCE} ${FINGER_FORCE}"/>
    <position name="finger_right" joint="finger_right" kp="800" kv="20" ctrlrange="-0.02 ${FINGER_TRAVEL}" forcerange="-${FINGER_FORCE} ${FINGER_FORCE}"/>
  </actuator>
</mujoco>
`;
}
