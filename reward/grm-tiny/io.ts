/**
 * GRM-tiny as a file: export to a contract .onnx (weights as initializers named after the
 * engine's parameters, the architecture in metadata) and back into a parameter store, so that an
 * exported model is also the starting point of adaptation.
 */
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { InputError } from '../../common/errors.js';
import { exportOnnx, Graph, ParamStore } from '../../engine/index.js';
import { CONTRACT_VERSION, META_CONTRACT, META_DESCRIPTION, META_HOP_BINS, withMetadata } from '../grm-contract.js';
import type { GrmTinyConfig } from './model.js';
import { contractInputs, grmFromInputs, hopBins } from './model.js';

const { onnx } = onnxProto;

export const META_TINY_CONFIG = 'dopamine.grm.tiny_config';

/** Builds the inference graph once so every parameter exists in the store (seeded init). */
export function createGrmTinyStore(config: GrmTinyConfig, seed: number): ParamStore {
  const store = new ParamStore({ seed });
  const graph = new Graph({ store });
  grmFromInputs(contractInputs(graph, 1, config), config);
  return store;
}

/** The contract .onnx of the store's weights, batch `batch`, with metadata. */
export function exportGrmTiny(store: ParamStore, config: GrmTinyConfig, batch: number, extra: Record<string, string> = {}): Uint8Array {
  const bytes = exportOnnx(store, (graph) => {
    const outputs = grmFromInputs(contractInputs(graph, batch, config), config);
    return { hop_logits: outputs.hop_logits, hop: outputs.hop, view_weights: outputs.view_weights };
  });
  return withMetadata(bytes, {
    [META_CONTRACT]: CONTRACT_VERSION,
    [META_HOP_BINS]: JSON.stringify(hopBins(config)),
    [META_TINY_CONFIG]: JSON.stringify(config),
    [META_DESCRIPTION]: extra[META_DESCRIPTION] ?? 'GRM-tiny',
    ...extra,
  });
}

/** Reads a GRM-tiny .onnx back into a parameter store. */
export function loadGrmTiny(file: string): { store: ParamStore; config: GrmTinyConfig; metadata: Record<string, string> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new InputError(file, `expected a readable .onnx model, got ${(error as NodeJS.ErrnoException).code ?? 'an error'}`);
  }
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new InputError(file, `expected an ONNX model, got bytes that do not decode (${(error as Error).message})`);
  }
  const metadata: Record<string, string> = {};
  for (const entry of model.metadataProps ?? []) if (entry.key) metadata[entry.key] = entry.value ?? '';
  const text = metadata[META_TINY_CONFIG];
  if (!text) throw new InputError(file, `expected a GRM-tiny model (metadata ${META_TINY_CONFIG}); other contract models can be scored but not adapted`);
  const config = JSON.parse(text) as GrmTinyConfig;
  const store = createGrmTinyStore(config, 0);
  const initializers = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  for (const name of store.names()) {
    const tensor = initializers.get(name);
    const param = store.get(name);
    if (!tensor?.rawData) throw new InputError(file, `expected weights for parameter ${name} of GRM-tiny, got none`);
    const raw = tensor.rawData;
    const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    if (values.length !== param.data.length) throw new InputError(file, `parameter ${name}: expected ${param.data.length} values, got ${values.length}`);
    store.set(name, values);
  }
  return { store, config, metadata };
}
