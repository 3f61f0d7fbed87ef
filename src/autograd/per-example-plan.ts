/**
 * Which parameters get fast per-example gradients, and why the others do not: read from the
 * recorded graph, with no knowledge of layers. A parameter is fast when every op that uses it
 * (after any reshapes of it) has a per-example rule in the op table (ops/table.ts PER_EXAMPLE),
 * combines it with an input that carries the examples, and fits the rule; then its gradient for
 * each example is the sum of its uses' rules. Otherwise it takes the fallback (one backward pass
 * per example), and the plan says which use stopped it.
 */
import type { Tensor } from '../core/tensor.js';
import { PER_EXAMPLE } from '../ops/table.js';
import type { OpName, PerExampleRule, PerExampleUse } from '../ops/types.js';

/** One use of a parameter by an op with a rule that fits it. */
export interface Use {
  rule: PerExampleRule<unknown>;
  u: PerExampleUse<unknown>;
  op: string;
}

export interface ParamPlan {
  param: Tensor;
  /** The uses with their rules, when the parameter is fast; null when it takes the fallback. */
  uses: Use[] | null;
  /** 'fast: matmul' or 'fallback: <why>': what a user sees (perExamplePlan). */
  reason: string;
}

/**
 * For every recorded tensor, the ops that take it as an input; and the tensors that depend on the
 * examples (the model's input, what shares its storage (a reshape of an int index tensor records
 * no op), and everything computed from them).
 */
export function readGraph(order: readonly Tensor[], input: Tensor): { consumers: Map<Tensor, { out: Tensor; at: number }[]>; carriesExamples: Set<Tensor> } {
  const consumers = new Map<Tensor, { out: Tensor; at: number }[]>();
  const carriesExamples = new Set<Tensor>();
  for (const t of order) {
    const inputs = t.node?.inputs ?? [];
    inputs.forEach((inp, at) => {
      const list = consumers.get(inp);
      if (list) list.push({ out: t, at });
      else consumers.set(inp, [{ out: t, at }]);
    });
    if (t === input || t.storage === input.storage || inputs.some((i) => carriesExamples.has(i))) carriesExamples.add(t);
  }
  return { consumers, carriesExamples };
}

/** The plan for one parameter: follow it through reshapes to the ops that use it and ask each op's rule. */
export function planParam(p: Tensor, B: number, graph: ReturnType<typeof readGraph>): ParamPlan {
  const fallback = (why: string): ParamPlan => ({ param: p, uses: null, reason: `fallback: ${why}` });
  if (graph.carriesExamples.has(p)) return fallback('the parameter depends on the input');
  const uses: Use[] = [];
  const views = [p];
  for (let v = views.pop(); v; v = views.pop()) {
    for (const { out, at } of graph.consumers.get(v) ?? []) {
      const node = out.node!;
      if (node.op === 'reshape') {
        views.push(out);
        continue;
      }
      const rule = PER_EXAMPLE[node.op as OpName] as PerExampleRule<unknown> | null | undefined;
      if (!rule) return fallback(`used by op '${node.op}', which has no per-example rule`);
      if (node.inputs.some((t, k) => k !== at && t === v)) return fallback(`op '${node.op}' takes it as two of its inputs`);
      if (!node.inputs.some((t, k) => k !== at && graph.carriesExamples.has(t)))
        return fallback(`op '${node.op}' combines it with no input that carries the examples`);
      const u: PerExampleUse<unknown> = { inputs: node.inputs, out, attrs: node.attrs, at, B };
      const why = rule.check(u);
      if (why !== null) return fallback(why);
      uses.push({ rule, u, op: node.op });
    }
  }
  if (!uses.length) return { param: p, uses, reason: 'fast: not reached by the loss (its gradients are zero)' };
  const ops = uses.map((x) => x.op);
  return { param: p, uses, reason: `fast: ${ops.length === 1 ? `${ops[0]} rule` : `${ops.length} uses (${ops.join(', ')} rules)`}` };
}

/** A plan entry as users read it. */
export interface PerExamplePlanEntry {
  /** The parameter's name in the model (namedParameters), or 'param <index>'. */
  name: string;
  shape: number[];
  path: 'fast' | 'fallback';
  /** 'fast: matmul rule', or 'fallback: <why>'. */
  reason: string;
}

export function describePlan(plans: readonly ParamPlan[], names: Map<Tensor, string>): PerExamplePlanEntry[] {
  return plans.map((pl, i) => ({
    name: names.get(pl.param) ?? `param ${i}`,
    shape: [...pl.param.shape],
    path: pl.uses ? 'fast' : 'fallback',
    reason: pl.reason,
  }));
}
