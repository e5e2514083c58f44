/**
 * Where a task's two key bodies (SimTask.keyBodies: the object the hand moves and its target) are,
 * relative to the hand and in each camera's image. Training targets for the encoders that must
 * locate objects (the policy's, perception/policy-encoder; GRM-tiny's auxiliary location head).
 */
import { SIM_CAMERAS } from './scene.js';
import type { SimWorld } from './world.js';

/** Values per frame: two key bodies, x, y, z each (relative to the hand) or x, y, in view (per image). */
export const KEY_BODY_VALUES = 6;

/** The task's two key bodies relative to the hand, decimetres (values of order 1 for a loss). */
export function keyBodyLocations(world: SimWorld): Float32Array {
  const ee = world.eePosition();
  const out = new Float32Array(KEY_BODY_VALUES);
  world.task.keyBodies.forEach((body, b) => {
    const p = world.bodyPosition(body);
    for (let i = 0; i < 3; i++) out[3 * b + i] = 10 * (p[i]! - ee[i]!);
  });
  return out;
}

/** The cameras of a frame's views, in view order (front, left wrist, right wrist). */
export const VIEW_CAMERAS = [SIM_CAMERAS.front, SIM_CAMERAS.left_wrist, SIM_CAMERAS.right_wrist] as const;
/** Image positions beyond the edge are clipped here: the target says "off this side". */
const IMAGE_CLIP = 1.5;

/**
 * Where the task's two key bodies appear in each view (front, left wrist, right wrist): per body
 * (x, y, in view), x and y in the image's [-1, 1] frame (x to the right, y down: the frame of
 * spatial-softmax keypoints) clipped to +-1.5, and 1 when the body's centre is in view, else 0.
 * [3 * KEY_BODY_VALUES]. `aspect`: the images' width / height. Reads the cameras' current poses
 * (data.cam_xpos, cam_xmat), so a moved camera is followed once mj_forward has run.
 */
export function keyBodyImageLocations(world: SimWorld, aspect: number): Float32Array {
  const out = new Float32Array(VIEW_CAMERAS.length * KEY_BODY_VALUES);
  const camPos = world.data.cam_xpos as Float64Array;
  const camMat = world.data.cam_xmat as Float64Array;
  VIEW_CAMERAS.forEach((camera, v) => {
    const id = world.id('camera', camera);
    const tanY = Math.tan(((world.model.cam_fovy as Float64Array)[id]! * Math.PI) / 360);
    const tanX = tanY * aspect;
    const m = camMat.subarray(id * 9, id * 9 + 9);
    world.task.keyBodies.forEach((body, b) => {
      const p = world.bodyPosition(body);
      const d = [p[0] - camPos[id * 3]!, p[1] - camPos[id * 3 + 1]!, p[2] - camPos[id * 3 + 2]!];
      // camera frame = M^T (p - camera position); the camera looks along its -z, y up
      const [cx, cy, cz] = [0, 1, 2].map((k) => m[k]! * d[0]! + m[3 + k]! * d[1]! + m[6 + k]! * d[2]!) as [number, number, number];
      const ahead = cz < -1e-6;
      const x = ahead ? cx / -cz / tanX : 0;
      const y = ahead ? -cy / -cz / tanY : 0;
      const clip = (value: number): number => Math.max(-IMAGE_CLIP, Math.min(IMAGE_CLIP, value));
      out.set([clip(x), clip(y), ahead && Math.abs(x) <= 1 && Math.abs(y) <= 1 ? 1 : 0], v * KEY_BODY_VALUES + 3 * b);
    });
  });
  return out;
}
