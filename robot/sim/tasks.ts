/**
 * The simulator's tasks. Each one brings its objects (MJCF), a seeded randomisation of poses and
 * colours, a success predicate, a time limit, and a scripted expert made of named phases whose
 * boundaries become the keyframes of a recorded demo.
 */
import type { Rng } from './rng.js';
import type { Vec3 } from './scene.js';
import { fmt } from './scene.js';
import type { SimWorld } from './world.js';

/** Where the expert wants the hand: position, yaw, gripper command (0 open, 1 closed). */
export interface Waypoint {
  position: Vec3;
  yaw: number;
  gripper: number;
}

export interface PhaseStep extends Waypoint {
  /** The phase has reached its goal: the next phase starts from this state. */
  done: boolean;
}

/** What a phase sees: the world, object poses as the (possibly noisy) expert perceives them. */
export interface ExpertContext {
  world: SimWorld;
  sees(body: string): Vec3;
  seesYaw(body: string): number;
  /** Control steps since the phase began. */
  phaseSteps: number;
}

export interface Phase {
  /** Keyframe annotation of the phase. */
  name: string;
  /** The expert moves on (having failed this phase) after this many control steps. */
  maxSteps: number;
  step(context: ExpertContext): PhaseStep;
}

export interface SimTask {
  name: string;
  /** One line for `sim tasks`. */
  description: string;
  /** Paraphrases of the instruction; the first is the task text. */
  instructions: readonly string[];
  /** Kept out of reward-model pretraining, for one-shot adaptation. */
  heldOut: boolean;
  /**
   * The two bodies the task is about (what the hand moves, and where it goes or what holds it):
   * their positions relative to the hand are the reward model's auxiliary pretraining target.
   */
  keyBodies: readonly [string, string];
  timeLimitS: number;
  /** Names of the expert's phases, in order. */
  phaseNames: readonly string[];
  objectsXml(): string;
  contactExcludes?: ReadonlyArray<readonly [string, string]>;
  /** Places objects and picks colours for one episode. */
  randomise(world: SimWorld, rng: Rng): void;
  /** Called after every control step (latches, indicator lights). */
  update?(world: SimWorld): void;
  success(world: SimWorld): boolean;
  /** Fresh phases for one episode. */
  expertPhases(): Phase[];
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

const PALETTE: ReadonlyArray<readonly [number, number, number]> = [
  [0.85, 0.15, 0.12],
  [0.12, 0.45, 0.85],
  [0.15, 0.7, 0.25],
  [0.95, 0.75, 0.1],
  [0.6, 0.2, 0.75],
  [0.95, 0.45, 0.1],
  [0.1, 0.7, 0.7],
  [0.9, 0.3, 0.6],
];

/** n different colours from the palette. */
function colours(rng: Rng, n: number): Array<readonly [number, number, number]> {
  const left = [...PALETTE];
  const out: Array<readonly [number, number, number]> = [];
  for (let i = 0; i < n; i++) out.push(left.splice(Math.floor(rng.next() * left.length), 1)[0]!);
  return out;
}

function distance(a: Vec3, b: Vec3): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}
function distanceXY(a: Vec3, b: Vec3): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}
function wrap(angle: number, period: number): number {
  return angle - period * Math.round(angle / period);
}
/** The yaw equivalent to `yaw` modulo `period` that is nearest to `current` (a symmetric grasp). */
function nearestYaw(yaw: number, current: number, period: number): number {
  return current + wrap(yaw - current, period);
}

/**
 * Move to `goal` without sweeping through objects: rise to `safeZ` first when the hand is low and
 * far from the goal in the plane, travel at that height, then descend.
 */
function viaAbove(world: SimWorld, goal: Vec3, safeZ: number): Vec3 {
  const ee = world.eePosition();
  const far = distanceXY(ee, goal) > 0.012;
  if (far && ee[2] < safeZ - 0.015) return [ee[0], ee[1], safeZ];
  if (far) return [goal[0], goal[1], safeZ];
  return goal;
}

function reached(world: SimWorld, goal: Vec3, tolerance = 0.006): boolean {
  return distance(world.eePosition(), goal) < tolerance;
}

function freeBoxXml(name: string, half: number, mass: number): string {
  return `<body name="${name}" pos="0.5 0 ${half}">
      <joint name="${name}_free" type="free"/>
      <geom name="${name}" type="box" size="${half} ${half} ${half}" mass="${mass}" friction="1.2 0.01 0.0002"/>
    </body>`;
}

export const CUBE_HALF = 0.02;

/** Phases shared by the pick-and-place style tasks: reach above, descend, grasp, lift. */
function pickPhases(object: string, objectHalf: number, label: string, carryZ: number): Phase[] {
  let graspYaw = 0;
  let closingSince: number | undefined;
  return [
    {
      name: `reach above the ${label}`,
      maxSteps: 40,
      step: (c) => {
        const o = c.sees(object);
        graspYaw = nearestYaw(c.seesYaw(object), c.world.eeYaw(), Math.PI / 2);
        const goal: Vec3 = [o[0], o[1], 0.1];
        const yawOk = Math.abs(c.world.eeYaw() - graspYaw) < 0.05;
        return { position: viaAbove(c.world, goal, 0.1), yaw: graspYaw, gripper: 0, done: reached(c.world, goal, 0.008) && yawOk };
      },
    },
    {
      name: `grasp the ${label}`,
      maxSteps: 25,
      step: (c) => {
        const o = c.sees(object);
        const goal: Vec3 = [o[0], o[1], Math.max(objectHalf, 0.018)];
        const down = reached(c.world, goal, 0.006) || c.phaseSteps > 12;
        if (down) closingSince ??= c.phaseSteps;
        const closing = closingSince;
        const gripper = closing === undefined ? 0 : 1;
        const done = closing !== undefined && c.phaseSteps - closing >= 3;
        return { position: closing === undefined ? goal : c.world.eePosition(), yaw: graspYaw, gripper, done };
      },
    },
    {
      name: `lift the ${label}`,
      maxSteps: 20,
      step: (c) => {
        const ee = c.world.eePosition();
        const goal: Vec3 = [ee[0], ee[1], carryZ];
        return { position: goal, yaw: graspYaw, gripper: 1, done: ee[2] > carryZ - 0.01 };
      },
    },
  ];
}

/** Lower to `releaseZ` over `place`, open, and rise: the second half of a pick-and-place. */
function placePhases(place: (c: ExpertContext) => Vec3, carryZ: number, releaseZ: number, moveName: string, releaseName: string): Phase[] {
  let openedAt: number | undefined;
  return [
    {
      name: moveName,
      maxSteps: 40,
      step: (c) => {
        const p = place(c);
        const goal: Vec3 = [p[0], p[1], carryZ];
        return { position: goal, yaw: c.world.eeYaw(), gripper: 1, done: reached(c.world, goal, 0.008) };
      },
    },
    {
      name: releaseName,
      maxSteps: 30,
      step: (c) => {
        const p = place(c);
        const goal: Vec3 = [p[0], p[1], releaseZ];
        if (openedAt === undefined && (reached(c.world, goal, 0.006) || c.phaseSteps > 15)) openedAt = c.phaseSteps;
        const done = openedAt !== undefined && c.phaseSteps - openedAt >= 3;
        return { position: openedAt === undefined ? goal : c.world.eePosition(), yaw: c.world.eeYaw(), gripper: openedAt === undefined ? 1 : 0, done };
      },
    },
    {
      name: 'move the hand away',
      maxSteps: 20,
      step: (c) => {
        const ee = c.world.eePosition();
        return { position: [ee[0], ee[1], carryZ], yaw: c.world.eeYaw(), gripper: 0, done: ee[2] > carryZ - 0.015 };
      },
    },
  ];
}

/** Rejection sampling of a pose that satisfies a condition (falls back to the last draw). */
function sample<T>(draw: () => T, ok: (value: T) => boolean): T {
  let value = draw();
  for (let i = 0; i < 200 && !ok(value); i++) value = draw();
  return value;
}

// ---------------------------------------------------------------------------------------------
// push-cube

const pushCube: SimTask = {
  name: 'push-cube',
  description: 'push a cube across the table onto a round target mark',
  instructions: [
    'push the cube onto the target',
    'slide the block onto the round mark',
    'move the cube onto the target by pushing it',
    'push the block until it sits on the marker',
    'nudge the cube over to the target spot',
  ],
  heldOut: false,
  keyBodies: ['cube', 'target'],
  timeLimitS: 15,
  phaseNames: ['move behind the cube', 'push the cube onto the target', 'move the hand away'],
  objectsXml: () => `    ${freeBoxXml('cube', CUBE_HALF, 0.1)}
    <body name="target" pos="0.6 0 0">
      <geom name="target" class="visual" type="cylinder" pos="0 0 0.0008" size="0.035 0.0008"/>
    </body>`,
  randomise(world, rng) {
    const [cube, target] = sample(
      () => {
        const c: Vec3 = [rng.uniform(0.38, 0.58), rng.uniform(-0.16, 0.16), CUBE_HALF];
        const angle = rng.uniform(-Math.PI, Math.PI);
        const d = rng.uniform(0.1, 0.18);
        return [c, [c[0] + d * Math.cos(angle), c[1] + d * Math.sin(angle), 0] as Vec3] as const;
      },
      ([c, t]) => {
        const u = [(t[0] - c[0]) / distanceXY(t, c), (t[1] - c[1]) / distanceXY(t, c)];
        const behind = [c[0] - u[0]! * 0.07, c[1] - u[1]! * 0.07];
        return [t[0], behind[0]!].every((x) => x > 0.3 && x < 0.68) && [t[1], behind[1]!].every((y) => Math.abs(y) < 0.24);
      },
    );
    world.placeFreeBody('cube', cube, rng.uniform(-Math.PI / 4, Math.PI / 4));
    world.placeFixedBody('target', target);
    const [cubeColour, targetColour] = colours(rng, 2);
    world.setGeomColour('cube', cubeColour!);
    world.setGeomColour('target', targetColour!);
  },
  success(world) {
    const cube = world.bodyPosition('cube');
    return distanceXY(cube, world.bodyPosition('target')) < 0.03 && cube[2] < CUBE_HALF + 0.01;
  },
  expertPhases() {
    const pushDirection = (c: ExpertContext): [number, number, number] => {
      const cube = c.sees('cube');
      const target = c.sees('target');
      const d = distanceXY(target, cube);
      return [(target[0] - cube[0]) / d, (target[1] - cube[1]) / d, d];
    };
        // The closed fingers make a nearly square pusher: any quarter turn that faces the push will do.
    const pushYaw = (c: ExpertContext, u: [number, number, number]): number => nearestYaw(Math.atan2(u[1], u[0]), c.world.eeYaw(), Math.PI / 2);
    return [
      {
        name: this.phaseNames[0]!,
        maxSteps: 40,
        step: (c) => {
          const cube = c.sees('cube');
          const u = pushDirection(c);
          const goal: Vec3 = [cube[0] - u[0] * 0.065, cube[1] - u[1] * 0.065, 0.022];
          const yaw = pushYaw(c, u);
          return { position: viaAbove(c.world, goal, 0.09), yaw, gripper: 1, done: reached(c.world, goal) && Math.abs(c.world.eeYaw() - yaw) < 0.08 };
        },
      },
      {
        name: this.phaseNames[1]!,
        maxSteps: 90,
        step: (c) => {
          const cube = c.sees('cube');
          const u = pushDirection(c);
          const ee = c.world.eePosition();
          const along = u[0] * (ee[0] - cube[0]) + u[1] * (ee[1] - cube[1]);
          const lateral = Math.abs(u[0] * (ee[1] - cube[1]) - u[1] * (ee[0] - cube[0]));
          const yaw = pushYaw(c, u);
          const done = u[2] < 0.01;
          if (along > -0.025) {
            // The cube got away beside or past the hand: go round it, above, to behind it again.
            const goal: Vec3 = [cube[0] - u[0] * 0.065, cube[1] - u[1] * 0.065, 0.022];
            return { position: viaAbove(c.world, goal, 0.07), yaw, gripper: 1, done };
          }
          if (lateral > 0.012) {
            // Behind but off the line through cube and target: slide back onto it at a stand-off.
            const standoff = Math.max(0.05, -along);
            return { position: [cube[0] - u[0] * standoff, cube[1] - u[1] * standoff, 0.022], yaw, gripper: 1, done };
          }
          // In line: aim past the contact point by how far the cube still has to go, slowly, so the
          // cube does not slide past the target.
          const advance = Math.min(0.015, 0.7 * u[2]);
          const goal: Vec3 = [cube[0] + u[0] * (advance - 0.036), cube[1] + u[1] * (advance - 0.036), 0.022];
          return { position: goal, yaw, gripper: 1, done };
        },
      },
      {
        name: this.phaseNames[2]!,
        maxSteps: 20,
        step: (c) => {
          const ee = c.world.eePosition();
          const u = pushDirection(c);
          const goal: Vec3 = [ee[0] - u[0] * 0.01, ee[1] - u[1] * 0.01, 0.1];
          return { position: goal, yaw: c.world.eeYaw(), gripper: 1, done: ee[2] > 0.085 };
        },
      },
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// pick-place

const BIN_INNER = 0.06;
const BIN_WALL_TOP = 0.05;

const pickPlace: SimTask = {
  name: 'pick-place',
  description: 'pick a cube up and drop it into a bin',
  instructions: [
    'put the cube in the bin',
    'pick up the block and place it in the box',
    'move the cube into the container',
    'drop the block into the bin',
    'place the cube inside the tray',
  ],
  heldOut: true,
  keyBodies: ['cube', 'bin'],
  timeLimitS: 20,
  phaseNames: ['reach above the cube', 'grasp the cube', 'lift the cube', 'carry the cube over the bin', 'release the cube into the bin', 'move the hand away'],
  objectsXml: () => {
    const w = 0.005;
    const o = BIN_INNER + w;
    const h = BIN_WALL_TOP / 2;
    return `    ${freeBoxXml('cube', CUBE_HALF, 0.05)}
    <body name="bin" pos="0.5 0.2 0">
      <geom name="bin_floor" type="box" pos="0 0 0.003" size="${o} ${o} 0.003"/>
      <geom name="bin_wall_1" type="box" pos="${o} 0 ${h}" size="${w} ${o} ${h}"/>
      <geom name="bin_wall_2" type="box" pos="-${o} 0 ${h}" size="${w} ${o} ${h}"/>
      <geom name="bin_wall_3" type="box" pos="0 ${o} ${h}" size="${o} ${w} ${h}"/>
      <geom name="bin_wall_4" type="box" pos="0 -${o} ${h}" size="${o} ${w} ${h}"/>
    </body>`;
  },
  randomise(world, rng) {
    const [cube, bin] = sample(
      () => [[rng.uniform(0.36, 0.58), rng.uniform(-0.2, 0.2), CUBE_HALF] as Vec3, [rng.uniform(0.36, 0.62), rng.uniform(-0.2, 0.2), 0] as Vec3] as const,
      ([c, b]) => Math.max(Math.abs(c[0] - b[0]), Math.abs(c[1] - b[1])) > BIN_INNER + 0.07,
    );
    world.placeFreeBody('cube', cube, rng.uniform(-Math.PI / 4, Math.PI / 4));
    world.placeFixedBody('bin', bin);
    const [cubeColour, binColour] = colours(rng, 2);
    world.setGeomColour('cube', cubeColour!);
    const dim = binColour!.map((v) => 0.35 + 0.4 * v) as [number, number, number];
    for (const geom of ['bin_floor', 'bin_wall_1', 'bin_wall_2', 'bin_wall_3', 'bin_wall_4']) world.setGeomColour(geom, dim);
  },
  success(world) {
    const cube = world.bodyPosition('cube');
    const bin = world.bodyPosition('bin');
    return (
      Math.abs(cube[0] - bin[0]) < BIN_INNER &&
      Math.abs(cube[1] - bin[1]) < BIN_INNER &&
      cube[2] < BIN_WALL_TOP &&
      world.gripperCommanded() < 0.5
    );
  },
  expertPhases() {
    return [
      ...pickPhases('cube', CUBE_HALF, 'cube', 0.15),
      ...placePhases((c) => c.sees('bin'), 0.15, 0.09, 'carry the cube over the bin', 'release the cube into the bin'),
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// stack-blocks

export const SMALL_HALF = 0.018;
export const BIG_HALF = 0.026;

const stackBlocks: SimTask = {
  name: 'stack-blocks',
  description: 'put the small block on top of the big block',
  instructions: [
    'stack the small block on the big block',
    'put the small cube on top of the large cube',
    'place the little block onto the big one',
    'build a tower: small block on the large block',
    'set the small cube on the big cube',
  ],
  heldOut: false,
  keyBodies: ['small_block', 'big_block'],
  timeLimitS: 20,
  phaseNames: ['reach above the small block', 'grasp the small block', 'lift the small block', 'move it above the big block', 'lower and release it on the big block', 'move the hand away'],
  objectsXml: () => `    ${freeBoxXml('small_block', SMALL_HALF, 0.04)}
    ${freeBoxXml('big_block', BIG_HALF, 0.3)}`,
  randomise(world, rng) {
    const [small, big] = sample(
      () => [[rng.uniform(0.36, 0.6), rng.uniform(-0.2, 0.2), SMALL_HALF] as Vec3, [rng.uniform(0.36, 0.6), rng.uniform(-0.2, 0.2), BIG_HALF] as Vec3] as const,
      ([s, b]) => distanceXY(s, b) > 0.12,
    );
    world.placeFreeBody('small_block', small, rng.uniform(-Math.PI / 4, Math.PI / 4));
    world.placeFreeBody('big_block', big, rng.uniform(-Math.PI / 4, Math.PI / 4));
    const [a, b] = colours(rng, 2);
    world.setGeomColour('small_block', a!);
    world.setGeomColour('big_block', b!);
  },
  success(world) {
    const small = world.bodyPosition('small_block');
    const big = world.bodyPosition('big_block');
    const height = small[2] - big[2];
    return (
      distanceXY(small, big) < 0.02 &&
      Math.abs(height - SMALL_HALF - BIG_HALF) < 0.008 &&
      world.bodyUpright('small_block') > 0.95 &&
      world.gripperCommanded() < 0.5
    );
  },
  expertPhases() {
    const onTop = BIG_HALF * 2 + SMALL_HALF + 0.008;
    return [
      ...pickPhases('small_block', SMALL_HALF, 'small block', 0.14),
      ...placePhases((c) => c.sees('big_block'), 0.14, onTop, 'move it above the big block', 'lower and release it on the big block'),
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// open-drawer

/** Handle position in the cabinet frame; the drawer slides out along -x. */
export const HANDLE: Vec3 = [-0.13, 0, 0.07];
const DRAWER_TRAVEL = 0.14;
export const DRAWER_OPEN = 0.08;

const openDrawer: SimTask = {
  name: 'open-drawer',
  description: 'grasp the handle of a drawer and pull it open',
  instructions: [
    'open the drawer',
    'pull the drawer out',
    'grab the drawer handle and pull it open',
    'slide the drawer open',
    'pull the drawer open by its handle',
  ],
  heldOut: false,
  keyBodies: ['drawer', 'cabinet'],
  timeLimitS: 15,
  phaseNames: ['reach the drawer handle', 'grasp the handle', 'pull the drawer open', 'release the handle'],
  contactExcludes: [['cabinet', 'drawer']],
  objectsXml: () => `    <body name="cabinet" pos="0.6 0 0">
      <geom name="cabinet_bottom" type="box" pos="0 0 0.005" size="0.1 0.11 0.005"/>
      <geom name="cabinet_top" type="box" pos="0 0 0.125" size="0.1 0.11 0.005"/>
      <geom name="cabinet_side_1" type="box" pos="0 0.105 0.065" size="0.1 0.005 0.065"/>
      <geom name="cabinet_side_2" type="box" pos="0 -0.105 0.065" size="0.1 0.005 0.065"/>
      <geom name="cabinet_back" type="box" pos="0.095 0 0.065" size="0.005 0.11 0.065"/>
      <body name="drawer">
        <joint name="drawer_slide" type="slide" axis="-1 0 0" range="0 ${DRAWER_TRAVEL}" damping="3" frictionloss="0.3"/>
        <geom name="drawer_front" type="box" pos="-0.095 0 0.065" size="0.005 0.098 0.053" mass="0.2"/>
        <geom name="drawer_bottom" type="box" pos="0 0 0.016" size="0.09 0.095 0.004" mass="0.2"/>
        <geom name="drawer_side_1" type="box" pos="0 0.092 0.04" size="0.09 0.003 0.022" mass="0.05"/>
        <geom name="drawer_side_2" type="box" pos="0 -0.092 0.04" size="0.09 0.003 0.022" mass="0.05"/>
        <geom name="drawer_back" type="box" pos="0.087 0 0.04" size="0.003 0.092 0.022" mass="0.05"/>
        <geom name="handle_stem" type="box" pos="-0.11 0 ${HANDLE[2]}" size="0.012 0.006 0.006" mass="0.02" rgba="0.75 0.75 0.78 1"/>
        <geom name="handle" type="box" pos="${fmt(HANDLE)}" size="0.008 0.011 0.016" mass="0.02" friction="1.5 0.01 0.0002" rgba="0.75 0.75 0.78 1"/>
      </body>
    </body>`,
  randomise(world, rng) {
    world.placeFixedBody('cabinet', [rng.uniform(0.56, 0.66), rng.uniform(-0.15, 0.15), 0]);
    const [body, front] = colours(rng, 2);
    for (const geom of ['cabinet_bottom', 'cabinet_top', 'cabinet_side_1', 'cabinet_side_2', 'cabinet_back']) world.setGeomColour(geom, body!);
    for (const geom of ['drawer_front', 'drawer_bottom', 'drawer_side_1', 'drawer_side_2', 'drawer_back']) world.setGeomColour(geom, front!);
  },
  success: (world) => world.jointPosition('drawer_slide') > DRAWER_OPEN,
  expertPhases() {
    const handle = (c: ExpertContext): Vec3 => {
      const d = c.sees('drawer');
      return [d[0] + HANDLE[0], d[1] + HANDLE[1], 0.05];
    };
    let pullFrom: Vec3 | undefined;
    let closedAt: number | undefined;
    return [
      {
        name: this.phaseNames[0]!,
        maxSteps: 40,
        step: (c) => {
          const goal = handle(c);
          return { position: viaAbove(c.world, goal, 0.17), yaw: 0, gripper: 0, done: reached(c.world, goal) };
        },
      },
      {
        name: this.phaseNames[1]!,
        maxSteps: 10,
        step: (c) => {
          closedAt ??= c.phaseSteps;
          return { position: c.world.eePosition(), yaw: 0, gripper: 1, done: c.phaseSteps - closedAt >= 3 };
        },
      },
      {
        name: this.phaseNames[2]!,
        maxSteps: 30,
        step: (c) => {
          pullFrom ??= c.world.eePosition();
          const goal: Vec3 = [pullFrom[0] - 0.12, pullFrom[1], pullFrom[2]];
          return { position: goal, yaw: 0, gripper: 1, done: reached(c.world, goal, 0.01) };
        },
      },
      {
        name: this.phaseNames[3]!,
        maxSteps: 20,
        step: (c) => {
          const ee = c.world.eePosition();
          const open = c.world.gripperOpening() > 0.8;
          return { position: open ? [ee[0], ee[1], 0.15] : ee, yaw: 0, gripper: 0, done: open && ee[2] > 0.135 };
        },
      },
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// press-button

export const BUTTON_PRESSED = -0.008;

const pressButton: SimTask = {
  name: 'press-button',
  description: 'press a spring-loaded button until its light turns green',
  instructions: [
    'press the button',
    'push the button down',
    'press down on the button until the light turns green',
    'hit the button',
    'push the button on the panel',
  ],
  heldOut: false,
  keyBodies: ['button', 'button_base'],
  timeLimitS: 10,
  phaseNames: ['move above the button', 'press the button', 'lift the hand'],
  contactExcludes: [['button_base', 'button']],
  objectsXml: () => `    <body name="button_base" pos="0.5 0 0">
      <geom name="button_base" type="box" pos="0 0 0.012" size="0.035 0.035 0.012" rgba="0.25 0.25 0.27 1"/>
      <geom name="button_light" class="visual" type="sphere" pos="0.024 0.024 0.026" size="0.007"/>
      <body name="button">
        <joint name="button_press" type="slide" axis="0 0 1" range="-0.012 0" stiffness="400" damping="2"/>
        <geom name="button" type="cylinder" pos="0 0 0.034" size="0.02 0.008" mass="0.02"/>
      </body>
    </body>`,
  randomise(world, rng) {
    world.placeFixedBody('button_base', [rng.uniform(0.38, 0.62), rng.uniform(-0.2, 0.2), 0]);
    const [cap, base] = colours(rng, 2);
    world.setGeomColour('button', cap!);
    world.setGeomColour('button_base', base!.map((v) => v * 0.4) as [number, number, number]);
    world.setGeomColour('button_light', [0.35, 0.05, 0.05]);
    world.taskState.pressed = false;
  },
  update(world) {
    if (world.taskState.pressed !== true && world.jointPosition('button_press') < BUTTON_PRESSED) {
      world.taskState.pressed = true;
      world.setGeomColour('button_light', [0.1, 0.95, 0.2]);
    }
  },
  success: (world) => world.taskState.pressed === true,
  expertPhases() {
    const above = (c: ExpertContext, z: number): Vec3 => {
      const b = c.sees('button');
      return [b[0], b[1], z];
    };
    return [
      {
        name: this.phaseNames[0]!,
        maxSteps: 30,
        step: (c) => {
          const goal = above(c, 0.09);
          return { position: viaAbove(c.world, goal, 0.09), yaw: 0, gripper: 1, done: reached(c.world, goal, 0.008) };
        },
      },
      {
        name: this.phaseNames[1]!,
        maxSteps: 20,
        step: (c) => ({ position: above(c, 0.028), yaw: 0, gripper: 1, done: c.world.taskState.pressed === true }),
      },
      {
        name: this.phaseNames[2]!,
        maxSteps: 15,
        step: (c) => {
          const ee = c.world.eePosition();
          return { position: [ee[0], ee[1], 0.1], yaw: 0, gripper: 1, done: ee[2] > 0.085 };
        },
      },
    ];
  },
};

// ---------------------------------------------------------------------------------------------

export const SIM_TASKS: readonly SimTask[] = [pushCube, pickPlace, openDrawer, stackBlocks, pressButton];

export function taskNames(): string[] {
  return SIM_TASKS.map((task) => task.name);
}

/** The task by name, or undefined (callers turn that into an InputError listing the tasks). */
export function findTask(name: string): SimTask | undefined {
  return SIM_TASKS.find((task) => task.name === name);
}
