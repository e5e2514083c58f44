/** The compute engine: models in TypeScript, compiled to ONNX graphs run by onnxruntime-node. */
export { Graph, Tensor, concat, conv2d as conv2dOp, broadcastShapes, sizeOf, shapeText } from './graph.js';
export type { DType, Shape, TensorLike } from './graph.js';
export { gradients } from './autodiff.js';
export { ParamStore, polyakUpdate, fanInUniform, seededRandom, normalSampler } from './params.js';
export type { Init, Param, FloatArray } from './params.js';
export * from './layers.js';
export * from './losses.js';
export { adamUpdate, globalNorm } from './optim.js';
export type { AdamOptions } from './optim.js';
export { Trainer, Predictor, NonFiniteError, exportOnnx } from './trainer.js';
export type { TrainerOptions, PredictorOptions, StepGraph, StepResult, Feeds } from './trainer.js';
export { saveCheckpoint, loadCheckpoint } from './checkpoint.js';
export { resolveExecutionProvider, createSession } from './runtime.js';
export type { ExecutionProvider, ExecutionProviderSetting, RuntimeOptions } from './runtime.js';
export { emitModel } from './onnx.js';
export { writeFileAtomic } from './files.js';
export { gradCheck } from './gradcheck.js';
export type { GradCheckInput, GradCheckResult } from './gradcheck.js';
