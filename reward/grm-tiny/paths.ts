/** Where the shipped GRM-tiny lives (relative to the repository root, resolved from this file). */
import { fileURLToPath } from 'node:url';

export const DEFAULT_GRM_TINY = fileURLToPath(new URL('../../models/grm-tiny.onnx', import.meta.url));
