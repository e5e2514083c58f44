/**
 * A plain TypeScript MLP (ReLU hidden layers, linear output, MSE loss) trained with Adam, using
 * loops over typed arrays only. It is the independent reference the engine is tested against and
 * the "plain TS" side of the benchmark; it is not used for training anything.
 */
export interface PlainLayer {
  /** [in, out], row-major (the engine's layout). */
  weight: Float64Array;
  bias: Float64Array;
  inDim: number;
  outDim: number;
}

export interface PlainAdam {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export class PlainMlp {
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  private step = 0;

  constructor(readonly layers: PlainLayer[], readonly adam: PlainAdam) {
    const all = this.parameterArrays();
    this.m = all.map((a) => new Float64Array(a.length));
    this.v = all.map((a) => new Float64Array(a.length));
  }

  private parameterArrays(): Float64Array[] {
    return this.layers.flatMap((l) => [l.weight, l.bias]);
  }

  /** One forward, backward and Adam step on a batch; returns the loss before the update. */
  trainStep(x: ArrayLike<number>, y: ArrayLike<number>, batch: number): number {
    const activations: Float64Array[] = [Float64Array.from(x)];
    for (const [li, layer] of this.layers.entries()) {
      const input = activations[li]!;
      const out = new Float64Array(batch * layer.outDim);
      for (let b = 0; b < batch; b++) {
        for (let o = 0; o < layer.outDim; o++) out[b * layer.outDim + o] = layer.bias[o]!;
        for (let i = 0; i < layer.inDim; i++) {
          const xi = input[b * layer.inDim + i]!;
          if (xi === 0) continue;
          const row = i * layer.outDim;
          for (let o = 0; o < layer.outDim; o++) out[b * layer.outDim + o]! += xi * layer.weight[row + o]!;
        }
      }
      if (li < this.layers.length - 1) for (let k = 0; k < out.length; k++) out[k] = Math.max(0, out[k]!);
      activations.push(out);
    }
    const prediction = activations[this.layers.length]!;
    let loss = 0;
    let grad = new Float64Array(prediction.length);
    for (let k = 0; k < prediction.length; k++) {
      const r = prediction[k]! - y[k]!;
      loss += r * r;
      grad[k] = (2 * r) / prediction.length;
    }
    loss /= prediction.length;

    const grads: Float64Array[] = [];
    for (let li = this.layers.length - 1; li >= 0; li--) {
      const layer = this.layers[li]!;
      const input = activations[li]!;
      const gw = new Float64Array(layer.weight.length);
      const gb = new Float64Array(layer.outDim);
      const gin = new Float64Array(batch * layer.inDim);
      for (let b = 0; b < batch; b++) {
        for (let o = 0; o < layer.outDim; o++) gb[o]! += grad[b * layer.outDim + o]!;
        for (let i = 0; i < layer.inDim; i++) {
          const xi = input[b * layer.inDim + i]!;
          const row = i * layer.outDim;
          let acc = 0;
          for (let o = 0; o < layer.outDim; o++) {
            const g = grad[b * layer.outDim + o]!;
            gw[row + o]! += xi * g;
            acc += layer.weight[row + o]! * g;
          }
          gin[b * layer.inDim + i] = acc;
        }
      }
      // ReLU of the previous layer: its output is this layer's input.
      if (li > 0) for (let k = 0; k < gin.length; k++) if (input[k]! <= 0) gin[k] = 0;
      grads.unshift(gw, gb);
      grad = gin;
    }

    this.step++;
    const { lr, beta1, beta2, eps } = this.adam;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    this.parameterArrays().forEach((p, j) => {
      const g = grads[j]!;
      const m = this.m[j]!;
      const v = this.v[j]!;
      for (let k = 0; k < p.length; k++) {
        m[k] = beta1 * m[k]! + (1 - beta1) * g[k]!;
        v[k] = beta2 * v[k]! + (1 - beta2) * g[k]! * g[k]!;
        p[k]! -= (lr * (m[k]! / c1)) / (Math.sqrt(v[k]! / c2) + eps);
      }
    });
    return loss;
  }
}
