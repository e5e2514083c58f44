import { fileURLToPath } from 'node:url';

/** The shipped policy encoder (models/policy-encoder.md), made by `dopamine policy pretrain-encoder`. */
export const DEFAULT_POLICY_ENCODER = fileURLToPath(new URL('../../models/policy-encoder.onnx', import.meta.url));
