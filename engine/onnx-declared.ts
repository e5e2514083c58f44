/**
 * What an ONNX file declares at its boundary, for the contract checks of models a lab brings (the
 * GRM contract, the image encoder contract): its graph inputs (initializers listed as inputs left
 * out), outputs, metadata and each tensor's declared dimensions.
 */
import onnxProto from 'onnx-proto';
import { InputError } from '../common/errors.js';

const { onnx } = onnxProto;

export type ValueInfo = onnxProto.onnx.IValueInfoProto;

export interface DeclaredModel {
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  metadata: Record<string, string>;
}

/** Decodes an ONNX file's bytes; a file that does not decode or has no graph is one InputError line naming `file`. */
export function readDeclaredModel(bytes: Uint8Array, file: string): DeclaredModel {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new InputError(file, `expected an ONNX model, got bytes that do not decode (${(error as Error).message})`);
  }
  const graph = model.graph;
  if (!graph) throw new InputError(file, 'expected an ONNX model, got a file without a graph');
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const metadata: Record<string, string> = {};
  for (const entry of model.metadataProps ?? []) if (entry.key) metadata[entry.key] = entry.value ?? '';
  return { inputs: (graph.input ?? []).filter((i) => !initializers.has(i.name ?? '')), outputs: graph.output ?? [], metadata };
}

/** A declared dimension: a fixed size, a symbolic name, or null when the model leaves it unknown. */
export type Dim = number | string | null;

/** The declared dimensions of a tensor, or undefined when it declares no shape. */
export function declaredDims(info: ValueInfo): Dim[] | undefined {
  const shape = info.type?.tensorType?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((d) => {
    if (d.dimParam) return d.dimParam;
    if (d.dimValue !== null && d.dimValue !== undefined) return Number(d.dimValue);
    return null;
  });
}
