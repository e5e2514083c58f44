/**
 * Images as the reward side receives them: decoded RGB (simulator, ROS 2 Image, decoded video) or
 * encoded bytes (JPEG / PNG from a CompressedImage or a file), and the views of one state.
 */
import type { CameraRole } from '../robot/types.js';
import { CAMERA_ROLES } from '../robot/types.js';

/** Packed 8-bit RGB, row-major, no padding (width * height * 3 bytes). */
export interface RawImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** A decoded image, or the bytes of a JPEG / PNG file. */
export type ImageInput = RawImage | Uint8Array;

/** The views of one state, by role. Front is required; a missing wrist view repeats the front view. */
export interface ViewSet {
  front: ImageInput;
  left_wrist?: ImageInput | undefined;
  right_wrist?: ImageInput | undefined;
}

export function isRawImage(image: ImageInput): image is RawImage {
  return !(image instanceof Uint8Array);
}

/** The image a role gets: its own view, else the front view (what the reference does with one camera). */
export function viewFor(views: ViewSet, role: CameraRole): ImageInput {
  return views[role] ?? views.front;
}

/** The three views in the model's role order (front, left_wrist, right_wrist), missing ones repeating front. */
export function viewsInRoleOrder(views: ViewSet): ImageInput[] {
  return CAMERA_ROLES.map((role) => viewFor(views, role));
}
