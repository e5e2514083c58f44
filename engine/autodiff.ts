/**
 * Reverse-mode differentiation over recorded tensors: walks from a scalar loss back to the
 * requested tensors, applying each operation's gradient rule (graph.ts) and summing the
 * contributions of every use. The result is more tensors in the same graph.
 */
import type { Tensor } from './graph.js';
import { rules, shapeText } from './graph.js';

/** d loss / d t for every t in `wrt` (zeros where the loss does not depend on t). */
export function gradients(loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  if (loss.rank !== 0) throw new Error(`loss must be a scalar, got shape ${shapeText(loss.shape)}`);
  const graph = loss.graph;

  // Topological order of the loss's ancestors (iterative post-order).
  const order: Tensor[] = [];
  const seen = new Set<number>();
  const stack: [Tensor, boolean][] = [[loss, false]];
  while (stack.length > 0) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    stack.push([t, true]);
    for (const input of t.node.inputs) if (!seen.has(input.id)) stack.push([input, false]);
  }

  // Only tensors on a path to one of `wrt` need gradients.
  const targets = new Set(wrt.map((t) => t.id));
  const needed = new Set<number>();
  for (const t of order) {
    if (targets.has(t.id) || t.node.inputs.some((i) => needed.has(i.id))) needed.add(t.id);
  }

  const grads = new Map<number, Tensor>([[loss.id, graph.scalar(1)]]);
  for (let k = order.length - 1; k >= 0; k--) {
    const y = order[k]!;
    const g = grads.get(y.id);
    if (!g || y.node.inputs.length === 0 || !needed.has(y.id)) continue;
    const rule = rules[y.node.kind];
    if (!rule?.grad) throw new Error(`operation ${y.node.kind} has no gradient rule`);
    const inputGrads = rule.grad(g, y);
    y.node.inputs.forEach((x, i) => {
      const gx = inputGrads[i];
      if (!gx || !needed.has(x.id)) return;
      const previous = grads.get(x.id);
      grads.set(x.id, previous ? previous.add(gx) : gx);
    });
  }
  return wrt.map((t) => grads.get(t.id) ?? graph.zeros(t.shape));
}
