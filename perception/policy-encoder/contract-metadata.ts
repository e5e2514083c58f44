/**
 * Metadata of an exported image encoder (docs/policy-encoder-contract.md): how its input is
 * normalised, what it is, and for the project's own encoder its architecture.
 */
import { withMetadata } from '../../reward/grm-contract.js';
import { META_DESCRIPTION, META_NORMALISATION, type EncoderNormalisation } from '../onnx-image-encoder.js';
import type { PolicyEncoderConfig } from './model.js';

export const META_POLICY_ENCODER_CONFIG = 'dopamine.policy_encoder.config';

export function withEncoderMetadata(bytes: Uint8Array, meta: { normalisation: EncoderNormalisation; description: string; config?: PolicyEncoderConfig }): Uint8Array {
  return withMetadata(bytes, {
    [META_NORMALISATION]: meta.normalisation,
    [META_DESCRIPTION]: meta.description,
    ...(meta.config ? { [META_POLICY_ENCODER_CONFIG]: JSON.stringify(meta.config) } : {}),
  });
}
