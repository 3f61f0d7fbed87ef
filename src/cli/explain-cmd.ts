/**
 * `descent explain`: what one mini-batch does to the weights, in plain words and numbers, for a
 * learner. It answers the question this project started from ("with a batch of 10 examples, how
 * does backprop update each weight? If example 1 has loss 2 and example 2 loss -2, doesn't it
 * cancel?") on a network of 5 weights, then measures on real data how the batch size sets the
 * noise of a gradient step.
 */
import { writeFileAtomic } from '../io/atomic.js';
import { writeExplainPage } from '../report/explain.js';
import type { Command } from 'commander';
import { valueAndGrad } from '../autograd/api.js';
import { perExampleGrads } from '../autograd/per-example.js';
import type { PerExampleLossFn } from '../autograd/per-example.js';
import { backwardSteps, walkthroughExamples, walkthroughNetwork } from '../autograd/walkthrough.js';
import { noGrad } from '../core/grad-mode.js';
import { Generator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { scope } from '../core/tensor.js';
import { loadFashionMnist } from '../data/builtin.js';
import { mlp } from '../nn/container.js';
import { crossEntropy } from '../nn/classification.js';
import { mseLoss } from '../nn/losses.js';
import { cast, narrow, tensor } from '../ops/index.js';
import { batchSizeAdvice } from '../stats/noise-scale.js';
import { batchSizeSweep } from '../stats/sweep.js';
import type { SweepResult } from '../stats/sweep.js';
import { stepsExamplesTradeoff } from '../stats/tradeoff.js';
import type { TradeoffResult } from '../stats/tradeoff.js';
import { positiveInt, positiveNumber, nonNegativeInt, UsageError } from './errors.js';
import { defineCommand, type ExitCode } from './command.js';
import { BACKEND_OPTION, useBackendAsync } from './options.js';
import { stdout } from './io.js';

export interface ExplainOptions {
  /** Examples in the batch of the tiny network (1..32, default 2). */
  batch?: number;
  /** Learning rate of the update shown (default 0.1). */
  lr?: number;
  /** Seed for the examples and the starting weights (default 0). */
  seed?: number;
  /** Also run the batch-size sweep on Fashion-MNIST. */
  sweep?: boolean;
  /** Mini-batches drawn per batch size in the sweep (default 64). */
  draws?: number;
  /** Examples of the Fashion-MNIST subset used as the sweep's pool (default all 6,000). */
  pool?: number;
  /** Also train to a target loss at several batch sizes and count steps and examples. */
  tradeoff?: boolean;
}

const NAMES = ['w1', 'w2', 'b1', 'v', 'c'] as const;
const r4 = (v: number) => Math.round(v * 1e4) / 1e4;
const num = (v: number, width = 9) => (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(4)).padStart(width);

/** The 5 weights in order w1, w2, b1, v, c from per-parameter tensors (Linear(2,1) then Linear(1,1)). */
function five(values: readonly Tensor[]): number[] {
  return values.flatMap((t) => Array.from(t.data));
}

/** How many leading significant digits a and b share (16: identical in float64). */
function agreeingDigits(a: readonly number[], b: readonly number[]): { digits: number; maxDiff: number } {
  let maxRel = 0,
    maxDiff = 0;
  a.forEach((v, i) => {
    const diff = Math.abs(v - b[i]!);
    maxDiff = Math.max(maxDiff, diff);
    maxRel = Math.max(maxRel, diff / Math.max(Math.abs(b[i]!), 1e-300));
  });
  return { digits: maxRel === 0 ? 16 : Math.min(16, Math.max(0, Math.floor(-Math.log10(maxRel)))), maxDiff };
}

export interface ExplainJson {
  network: { equations: string[]; weights: Record<string, number> };
  examples: { x: number[]; y: number; prediction: number; loss: number; gradient: Record<string, number> }[];
  mean_loss: number;
  mean_of_example_gradients: Record<string, number>;
  autodiff_gradient_of_mean_loss: Record<string, number>;
  agreement: { digits: number; max_abs_difference: number };
  learning_rate: number;
  update: Record<string, { before: number; after: number }>;
  mean_loss_after_update: number;
  backward: { step: number; tensor: string; made_by: string; shape: number[]; gradient: number[]; rule: string }[];
  average_example: {
    x: number[];
    y: number;
    gradient_at_average_example: Record<string, number>;
    mean_gradient: Record<string, number>;
    difference: Record<string, number>;
  };
  sweep?: SweepJson;
  tradeoff?: TradeoffResult & { dataset: string; model: string; learning_rates: number[] };
}

/** The schema written by --out (read by the chart page). */
export interface SweepJson {
  sweep: { batch_size: number; measured_variance: number; predicted_variance: number }[];
  trace_cov: number;
  grad_norm_sq: number;
  noise_scale: number;
  dataset: string;
  model: string;
}

const byName = (v: readonly number[]) => Object.fromEntries(NAMES.map((n, i) => [n, v[i]!]));

const sq: PerExampleLossFn = (out, y, o) => mseLoss(out, y, o);

/** Build the whole explanation: the text for the terminal and the same numbers as JSON. */
// lint-allow-long-function: the report is printed in reading order, section after section, like the text it produces
export async function explainReport(options: ExplainOptions = {}): Promise<{ text: string; json: ExplainJson }> {
  const B = options.batch ?? 2,
    lr = options.lr ?? 0.1,
    seed = options.seed ?? 0;
  if (!Number.isInteger(B) || B < 1 || B > 32) throw new RangeError(`explain: the batch must hold 1 to 32 examples, got ${B}`);
  if (!(lr > 0)) throw new RangeError(`explain: the learning rate must be > 0, got ${lr}`);
  const { L, json } = scope(() => {
    const gen = new Generator(seed);
    const net = walkthroughNetwork(gen);
    const params = net.parameters();
    // Inputs with one decimal; the target is a smooth function of them the network can learn.
    const { xs, ys } = walkthroughExamples(gen, B);
    const X = tensor(xs, { dtype: 'float64' }),
      Y = tensor(
        ys.map((v) => [v]),
        { dtype: 'float64' },
      );
    const L: string[] = [];
    const say = (...lines: string[]) => L.push(...lines);
    const weights = five(params);

    say(
      'THE NETWORK (5 weights)',
      '  h    = tanh(w1*x1 + w2*x2 + b1)    a hidden unit; tanh squashes any number into (-1, 1)',
      '  out  = v*h + c                     the prediction',
      '  loss = (out - y)^2                 squared distance from the target y: never negative',
      `  weights now: ${NAMES.map((n, i) => `${n} = ${weights[i]}`).join(', ')}`,
      '',
    );

    // Each example on its own: its loss and its gradient (per-example gradients, exact).
    const pe = perExampleGrads(net, sq, X, Y);
    const preds = Array.from(noGrad(() => net.forward(X)).data);
    const losses = Array.from(pe.losses.data);
    const grads = Array.from({ length: B }, (_, i) => five(params.map((p) => narrow(pe.grads.get(p)!, 0, i, 1))));
    say(
      `THE BATCH: ${B} example${B > 1 ? 's' : ''}. For each one, its loss, and its gradient: for every weight, how fast`,
      "this example's loss grows when that weight is nudged up (negative: raising the weight lowers the loss).",
      `  example     x1     x2   target  predicted     loss | ${NAMES.map((n) => `dloss/d${n}`.padStart(10)).join('')}`,
    );
    xs.forEach((x, i) =>
      say(
        `  ${String(i + 1).padStart(7)} ${x[0]!.toFixed(1).padStart(6)} ${x[1]!.toFixed(1).padStart(6)} ${ys[i]!.toFixed(1).padStart(8)} ${num(preds[i]!, 10)} ${num(losses[i]!, 8)} | ${grads[i]!.map((g) => num(g, 10)).join('')}`,
      ),
    );
    const avg = NAMES.map((_, k) => grads.reduce((s, g) => s + g[k]!, 0) / B);
    const meanLoss = losses.reduce((s, l) => s + l, 0) / B;
    say(`  average                                   ${num(meanLoss, 8)} | ${avg.map((g) => num(g, 10)).join('')}`, '');

    // The ordinary way: one backward pass of the mean loss.
    const auto = five([...valueAndGrad(() => mseLoss(net.forward(X), Y), params).grads.values()]);
    const agree = agreeingDigits(avg, auto);
    say(
      'THE GRADIENT OF THE MEAN LOSS, by automatic differentiation (one backward pass over the whole batch):',
      `  ${NAMES.map((n, i) => `${n}: ${num(auto[i]!, 0)}`).join('   ')}`,
      agree.maxDiff === 0
        ? "  It equals the average of the examples' gradients: they agree to all 16 significant digits (identical)."
        : `  It equals the average of the examples' gradients: they agree to ${agree.digits} significant digits (largest difference ${agree.maxDiff.toExponential(1)}, from rounding).`,
      '  Why: the mean loss is (1/B) x (sum of the losses), and the slope of a sum is the sum of the slopes.',
      "  With reduction 'sum' (no 1/B) every gradient is B times this, so the same step needs a learning rate B times smaller, and changing B changes the step.",
      '  Per-example gradients exist because each loss depends on its own example only. BatchNorm breaks that in training: it normalises with the mean and variance of the whole batch, so each output (and its gradient) depends on the other examples too.',
      '',
    );
    const disagree = NAMES.filter((_, k) => grads.some((g) => g[k]! > 0) && grads.some((g) => g[k]! < 0));
    say(
      "DOESN'T ONE EXAMPLE CANCEL ANOTHER? Not their losses: every loss is a squared distance, 0 or more, so",
      `  the mean loss (${num(meanLoss, 0)}) is 0 only when every example is predicted exactly. What can cancel is the`,
      '  gradients: examples may pull a weight in opposite directions, and the average is their compromise.',
      disagree.length ? `  In this batch the examples disagree about ${disagree.join(', ')}.` : '  In this batch all examples pull every weight the same way.',
      '',
    );

    // The update, and the loss after it.
    const after = weights.map((w, k) => w - lr * auto[k]!);
    const old = params.map((p) => tensor(p.dataSync(), { shape: p.shape, dtype: 'float64' }));
    let off = 0;
    for (const p of params) {
      p.assign(tensor(after.slice(off, off + p.size), { shape: p.shape, dtype: 'float64' }));
      off += p.size;
    }
    const lossAfter = noGrad(() => mseLoss(net.forward(X), Y).item());
    params.forEach((p, i) => p.assign(old[i]!));
    say(
      `THE UPDATE with learning rate ${lr}: new weight = old weight - ${lr} x (gradient of the mean loss)`,
      ...NAMES.map((n, k) => `  ${n.padEnd(3)} ${num(weights[k]!)} -> ${num(after[k]!)}`),
      `  The mean loss goes from ${num(meanLoss, 0)} to ${num(lossAfter, 0)}.`,
      '',
    );

    // The backward pass step by step: every recorded operation, last first, with its gradient.
    const backward = backwardSteps(net, X, Y).map(({ value: _value, ...step }) => step);
    say(
      'THE BACKWARD PASS, step by step. The forward pass recorded every operation; backpropagation visits them',
      'in reverse, and at each one passes on the gradient (d mean loss / d that value). Each value holds one',
      'number per example, so every example sends its own gradient back through every step.',
    );
    for (const s of backward)
      say(
        `  ${String(s.step).padStart(2)}. ${s.tensor} = ${s.made_by}  shape [${s.shape.join(', ')}]${s.rule ? `: ${s.rule}` : ''}`,
        `      gradient: ${fmtList(s.gradient)}`,
      );
    say('  At a weight, the matrix product adds the contributions of all the examples together:');
    say(`    ${'example'.padStart(9)} | ${NAMES.map((n) => n.padStart(10)).join('')}`);
    grads.forEach((g, i) => say(`    ${String(i + 1).padStart(9)} | ${g.map((v) => num(v / B, 10)).join('')}`));
    say(
      `    ${'sum'.padStart(9)} | ${auto.map((v) => num(v, 10)).join('')}`,
      `  Each entry is (1/${B}) x that example's gradient: every weight gets a share from every example, not just from the last.`,
      '',
    );

    // Is the batch gradient the gradient at the "average example"?
    const xm = [0, 1].map((j) => xs.reduce((s, x) => s + x[j]!, 0) / B),
      ym = ys.reduce((s, v) => s + v, 0) / B;
    const atMean = five([
      ...valueAndGrad(() => mseLoss(net.forward(tensor([xm], { dtype: 'float64' })), tensor([[ym]], { dtype: 'float64' })), params).grads.values(),
    ]);
    const diff = atMean.map((v, k) => v - auto[k]!);
    say(
      'IS IT THE GRADIENT AT THE "AVERAGE EXAMPLE"? Take the mean input and mean target as one example:',
      `  x = (${xm.map((v) => r4(v)).join(', ')}), y = ${r4(ym)}`,
      `  gradient at the average example: ${atMean.map((v) => num(v, 10)).join('')}`,
      `  average of the gradients:        ${auto.map((v) => num(v, 10)).join('')}`,
      `  difference:                      ${diff.map((v) => num(v, 10)).join('')}`,
      '  They differ: the gradient depends on the example nonlinearly (through tanh, and through the square of',
      '  the error), and the average of a curved function is not the function of the average.',
      '',
    );

    const json: ExplainJson = {
      network: { equations: ['h = tanh(w1*x1 + w2*x2 + b1)', 'out = v*h + c', 'loss = (out - y)^2'], weights: byName(weights) },
      examples: xs.map((x, i) => ({ x, y: ys[i]!, prediction: preds[i]!, loss: losses[i]!, gradient: byName(grads[i]!) })),
      mean_loss: meanLoss,
      mean_of_example_gradients: byName(avg),
      autodiff_gradient_of_mean_loss: byName(auto),
      agreement: { digits: agree.digits, max_abs_difference: agree.maxDiff },
      learning_rate: lr,
      update: Object.fromEntries(NAMES.map((n, k) => [n, { before: weights[k]!, after: after[k]! }])),
      mean_loss_after_update: lossAfter,
      backward,
      average_example: { x: xm, y: ym, gradient_at_average_example: byName(atMean), mean_gradient: byName(auto), difference: byName(diff) },
    };
    return { L, json };
  });
  // measured on real data (asynchronously: values are read with dataAsync, on any backend)
  if (options.sweep) {
    const s = await sweepJson(options);
    json.sweep = s;
    L.push(...sweepText(s));
  }
  if (options.tradeoff) {
    const t = await tradeoffJson(options.seed ?? 0);
    json.tradeoff = t;
    L.push('', ...tradeoffText(t, json.sweep?.noise_scale));
  }
  return { text: L.join('\n'), json };
}

/**
 * Prose lines wrapped at spaces to `width` columns, continuing under their indentation (and under
 * the text of a numbered step); table rows (with '|') are left whole.
 */
export function wrapText(text: string, width: number): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.length <= width || line.includes('|')) {
      out.push(line);
      continue;
    }
    const indent = ' '.repeat(/^\s*(?:\d+\.\s+)?/.exec(line)![0].length);
    let rest = line;
    let first = true;
    while (rest.length > width) {
      const cut = rest.lastIndexOf(' ', width);
      if (cut <= indent.length) break;
      out.push(rest.slice(0, cut));
      rest = indent + rest.slice(cut + 1).trimStart();
      first = false;
    }
    if (rest.trim() || first) out.push(rest);
  }
  return out.join('\n');
}

function fmtList(v: readonly number[]): string {
  return '[' + v.map((x) => (Math.abs(x) < 1e-3 && x !== 0 ? x.toExponential(2) : String(r4(x)))).join(', ') + ']';
}

const SWEEP_MODEL = 'MLP 784-32-10 (ReLU), float64, at its seeded initialisation';

async function sweepJson(o: ExplainOptions): Promise<SweepJson> {
  const f = loadFashionMnist();
  const [xAll, yAll] = f.train.tensors as [Tensor, Tensor];
  const N = Math.min(o.pool ?? xAll.shape[0]!, xAll.shape[0]!);
  const gen = new Generator(o.seed ?? 0);
  const model = mlp([784, 32, 10], { dtype: 'float64', generator: gen });
  const r: SweepResult = await batchSizeSweep({
    model,
    loss: (out, y, opt) => crossEntropy(out, y, opt),
    x: cast(narrow(xAll, 0, 0, N), 'float64'),
    y: narrow(yAll, 0, 0, N),
    draws: o.draws ?? 64,
    generator: gen,
  });
  return {
    sweep: r.sweep,
    trace_cov: r.trace_cov,
    grad_norm_sq: r.grad_norm_sq,
    noise_scale: r.noise_scale,
    dataset: `Fashion-MNIST subset (first ${N} training images)`,
    model: SWEEP_MODEL,
  };
}

function sweepText(s: SweepJson): string[] {
  const out = [
    `BATCH SIZE AND NOISE, measured on real data: ${s.dataset}, ${s.model}.`,
    'Treat these images as "all the data": their average gradient is the true gradient G. A mini-batch of B',
    'random images gives an estimate of it; its variance is the average squared distance |G_B - G|^2 from G.',
    `tr(Sigma) = ${r4(s.trace_cov)} is that variance for ONE image (the trace of the covariance: the per-weight`,
    'variances added up). Averaging B independent images divides it by B, so the prediction is tr(Sigma) / B:',
    `  ${'B'.padStart(5)} ${'measured'.padStart(12)} ${'tr(Sigma)/B'.padStart(12)} ${'ratio'.padStart(7)}`,
    ...s.sweep.map(
      (p) =>
        `  ${String(p.batch_size).padStart(5)} ${p.measured_variance.toPrecision(4).padStart(12)} ${p.predicted_variance.toPrecision(4).padStart(12)} ${(p.measured_variance / p.predicted_variance).toFixed(2).padStart(7)}`,
    ),
    `|G|^2 = ${r4(s.grad_norm_sq)} (the squared length of the true gradient). The batch size where the noise`,
    `equals the signal, tr(Sigma) / |G|^2, is the noise scale (McCandlish et al. 2018): here ${r4(s.noise_scale)}.`,
    batchSizeAdvice(s.noise_scale),
  ];
  return out;
}

const TRADEOFF_LRS = [0.4, 0.2, 0.1, 0.05];

async function tradeoffJson(seed: number): Promise<NonNullable<ExplainJson['tradeoff']>> {
  const f = loadFashionMnist();
  const [x, y] = f.train.tensors as [Tensor, Tensor];
  const r = await stepsExamplesTradeoff({
    makeModel: () => mlp([784, 32, 10], { generator: new Generator(seed) }),
    loss: (out, t, o) => crossEntropy(out, t, o),
    x,
    y,
    evalX: narrow(x, 0, 0, 1000),
    evalY: narrow(y, 0, 0, 1000),
    targetLoss: 0.8,
    batchSizes: [4, 16, 64, 256],
    lrs: TRADEOFF_LRS,
    maxSteps: 1000,
    seed,
  });
  return {
    ...r,
    dataset: 'Fashion-MNIST subset (6000 training images; the loss is checked on the first 1000)',
    model: 'MLP 784-32-10 (ReLU), float32, plain SGD',
    learning_rates: TRADEOFF_LRS,
  };
}

function tradeoffText(t: NonNullable<ExplainJson['tradeoff']>, noiseScale: number | undefined): string[] {
  return [
    `STEPS OR EXAMPLES? Training the ${t.model}`,
    `on the ${t.dataset},`,
    `until the mean loss is ${t.target_loss}, at each batch size with the best of the learning rates ${t.learning_rates.join(', ')}:`,
    `  ${'B'.padStart(5)} ${'best lr'.padStart(8)} ${'steps'.padStart(7)} ${'examples'.padStart(9)} ${'model: steps'.padStart(13)}`,
    ...t.points.map(
      (p) =>
        `  ${String(p.batch_size).padStart(5)} ${String(p.lr).padStart(8)} ${String(p.steps).padStart(7)} ${String(p.examples).padStart(9)} ${p.predicted_steps.toFixed(0).padStart(13)}`,
    ),
    'Small batches need more steps (each step is noisy); large batches need more examples (averaging past the',
    'noise buys little). The model of McCandlish et al., S = S_min (1 + B_crit / B) and E = E_min (1 + B / B_crit),',
    `fits with S_min = ${t.s_min.toFixed(0)} steps, E_min = ${t.e_min.toFixed(0)} examples, so B_crit = E_min / S_min = ${t.b_crit.toFixed(0)}`,
    noiseScale !== undefined
      ? `For comparison, the noise scale measured above (at the start of training) was ${noiseScale.toFixed(0)}: the paper finds B_crit of the same order.`
      : 'The paper finds B_crit of the same order as the noise scale (descent explain --sweep measures it).',
  ];
}

/** Register `descent explain` on the program. */
export function registerExplain(program: Command, exit?: ExitCode): void {
  defineCommand(
    program,
    {
      name: 'explain',
      description: 'show, with numbers, what one mini-batch does to the weights of a tiny network (and how batch size sets gradient noise)',
      options: {
        batch: { flags: '--batch <n>', help: 'examples in the batch (1 to 32; try 2 or 10)', default: 2 },
        lr: { flags: '--lr <rate>', help: 'learning rate of the update shown', default: 0.1 },
        seed: { flags: '--seed <n>', help: 'seed for the examples and starting weights', default: 0 },
        sweep: { flags: '--sweep', help: 'also measure gradient variance against batch size (1..256) on the Fashion-MNIST subset' },
        draws: { flags: '--draws <n>', help: 'mini-batches drawn per batch size in the sweep', default: 64 },
        tradeoff: { flags: '--tradeoff', help: 'also train to a target loss at batch sizes 4..256 and count the steps and examples each needs' },
        json: { flags: '--json', help: 'print everything as one JSON object' },
        out: { flags: '--out <file.json>', help: 'write the sweep as JSON to this file (implies --sweep)' },
        page: {
          flags: '--page <file.html>',
          help: 'write the sweep as a page: variance against batch size (log-log) and steps against examples (implies --sweep)',
        },
        backend: BACKEND_OPTION,
      },
      help: '\nExamples:\n  $ descent explain --batch 10\n  $ descent explain --batch 2 --lr 0.5 --seed 3\n  $ descent explain --sweep --tradeoff\n  $ descent explain --sweep --out sweep.json\n  $ descent explain --sweep --page sweep.html',
      run: async (_args, opts) => {
        await useBackendAsync(BACKEND_OPTION.parse('--backend', opts.backend));
        const batch = positiveInt('--batch', opts.batch);
        if (batch > 32) throw new UsageError(`--batch must be at most 32 (the tables get wide), got ${batch}`);
        const o: ExplainOptions = {
          batch,
          lr: positiveNumber('--lr', opts.lr),
          seed: nonNegativeInt('--seed', opts.seed),
          sweep: !!opts.sweep || opts.out !== undefined || opts.page !== undefined,
          draws: positiveInt('--draws', opts.draws),
          tradeoff: !!opts.tradeoff,
        };
        const { text, json } = await explainReport(o);
        if (typeof opts.out === 'string') writeFileAtomic(opts.out, JSON.stringify(json.sweep, null, 2) + '\n');
        if (typeof opts.page === 'string' && json.sweep) writeExplainPage(opts.page, json.sweep);
        stdout(opts.json ? JSON.stringify(json) + '\n' : wrapText(text, Math.max(60, Math.min(process.stdout.columns || 100, 120))) + '\n');
        return 0;
      },
    },
    exit,
  );
}
