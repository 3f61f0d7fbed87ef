/** `descent explain`: the numbers it shows agree with each other, and the command's JSON and --out file. */
import '../helpers.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { explainReport, registerExplain } from '../../src/cli/explain-cmd.js';
import { fitStepsExamples } from '../../src/stats/tradeoff.js';
import { UsageError } from '../../src/cli/errors.js';
import { assertClose } from '../helpers.js';
import { collectStdout } from '../../src/cli/io.js';

const dirs: string[] = [];
after(() => {
  for (const p of dirs) rmSync(p, { recursive: true, force: true });
});
const NAMES = ['w1', 'w2', 'b1', 'v', 'c'];
const vec = (r: Record<string, number>) => NAMES.map((n) => r[n]!);

async function runExplain(args: string[]): Promise<string> {
  const program = new Command('descent').exitOverride();
  registerExplain(program);
  const chunks: string[] = [];
  // the CLI's own stdout sink: process.stdout carries the test runner's report
  await collectStdout(
    (s) => chunks.push(s),
    () => program.parseAsync(['explain', ...args], { from: 'user' }),
  );
  return chunks.join('');
}

describe('explainReport', () => {
  it('a batch of 10: non-negative losses, the mean of per-example gradients equals autodiff, the update follows', async () => {
    const { text, json } = await explainReport({ batch: 10, lr: 0.05, seed: 1 });
    assert.equal(json.examples.length, 10);
    assert.ok(
      json.examples.every((e) => e.loss >= 0),
      'squared distances are never negative',
    );
    // the loss printed is (prediction - target)^2
    for (const e of json.examples) assertClose(e.loss, (e.prediction - e.y) ** 2, { atol: 1e-14, rtol: 1e-12 });
    const avg = NAMES.map((n) => json.examples.reduce((s, e) => s + e.gradient[n]!, 0) / 10);
    assertClose(vec(json.mean_of_example_gradients), avg, { atol: 1e-15, rtol: 1e-12 });
    assertClose(vec(json.autodiff_gradient_of_mean_loss), avg, { atol: 1e-13, rtol: 1e-12 });
    assert.ok(json.agreement.digits >= 13, `agree to ${json.agreement.digits} digits`);
    assert.match(text, new RegExp(`agree to (${json.agreement.digits} significant digits|all 16 significant digits)`));
    assert.match(text, new RegExp(`w1: ${json.autodiff_gradient_of_mean_loss.w1!.toFixed(4)}`));
    for (const n of NAMES)
      assertClose(json.update[n]!.after, json.update[n]!.before - 0.05 * json.autodiff_gradient_of_mean_loss[n]!, { atol: 1e-15, rtol: 0 });
    assert.ok(json.mean_loss_after_update < json.mean_loss, `a small step lowers the mean loss: ${json.mean_loss} -> ${json.mean_loss_after_update}`);
  });

  it('walks the backward pass from the mean loss (gradient 1) to every weight, each example getting 1/B', async () => {
    const B = 4;
    const { json } = await explainReport({ batch: B, seed: 2 });
    const steps = json.backward;
    assert.deepEqual([steps[0]!.tensor, steps[0]!.gradient], ['mean loss', [1]]);
    // the per-example losses (shape [B]) each receive d(mean)/d(loss_i) = 1/B
    const perExample = steps.find((s) => s.shape.length === 1 && s.shape[0] === B)!;
    assert.deepEqual(perExample.gradient, [0.25, 0.25, 0.25, 0.25]);
    const w = steps.slice(-4).flatMap((s) => s.gradient); // w (w1, w2), b1, v, c
    assertClose(w, vec(json.autodiff_gradient_of_mean_loss), { atol: 1e-14, rtol: 1e-12 });
    assert.ok(steps.some((s) => s.made_by.startsWith('matmul(x,') && /sum over the examples/.test(s.rule)));
    assert.ok(steps.slice(0, -4).every((s, i) => s.step === i + 1));
  });

  it('the "average example" gradient differs from the average gradient for this nonlinear model', async () => {
    const { json } = await explainReport({ batch: 10, seed: 0 });
    const a = json.average_example;
    assertClose(
      a.x,
      [0, 1].map((j) => json.examples.reduce((s, e) => s + e.x[j]!, 0) / 10),
      { atol: 1e-14, rtol: 0 },
    );
    assertClose(
      vec(a.difference),
      vec(a.gradient_at_average_example).map((v, k) => v - vec(a.mean_gradient)[k]!),
      { atol: 1e-15, rtol: 0 },
    );
    assert.ok(Math.max(...vec(a.difference).map(Math.abs)) > 0.01, 'a visible difference');
  });

  it('measures gradient variance against the 1/B prediction (small pool for speed)', async () => {
    const { text, json } = await explainReport({ batch: 2, sweep: true, pool: 1000, draws: 24 });
    const s = json.sweep!;
    assert.deepEqual(Object.keys(s).sort(), ['dataset', 'grad_norm_sq', 'model', 'noise_scale', 'sweep', 'trace_cov']);
    assert.deepEqual(
      s.sweep.map((p) => p.batch_size),
      [1, 2, 4, 8, 16, 32, 64, 128, 256],
    );
    for (const p of s.sweep) {
      assert.deepEqual(Object.keys(p).sort(), ['batch_size', 'measured_variance', 'predicted_variance']);
      assertClose(p.predicted_variance, s.trace_cov / p.batch_size, { atol: 0, rtol: 1e-12 });
      // 24 draws of a sum of ~25,000 squared coordinates: the measured mean is within a factor 1.6 of trSigma/B
      const ratio = p.measured_variance / p.predicted_variance;
      assert.ok(ratio > 0.6 && ratio < 1.6, `B = ${p.batch_size}: measured / predicted = ${ratio}`);
    }
    assertClose(s.noise_scale, s.trace_cov / s.grad_norm_sq, { atol: 0, rtol: 1e-12 });
    assert.match(text, /gradient noise scale ~ \d+: batches well below it waste steps, well above it waste examples/);
  });

  it('checks its options', async () => {
    await assert.rejects(explainReport({ batch: 0 }), /explain: the batch must hold 1 to 32 examples, got 0/);
  });
});

describe('descent explain (registered on a program)', () => {
  it('prints one JSON object with --json, and writes the sweep schema with --out', async () => {
    const j = JSON.parse(await runExplain(['--batch', '10', '--lr', '0.2', '--json']));
    assert.equal(j.examples.length, 10);
    assert.equal(j.learning_rate, 0.2);
    const dir = mkdtempSync(join(tmpdir(), 'descent-explain-'));
    dirs.push(dir);
    const file = join(dir, 'sweep.json');
    const text = await runExplain(['--out', file, '--draws', '2']);
    assert.match(text, /BATCH SIZE AND NOISE/);
    const s = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(Object.keys(s).sort(), ['dataset', 'grad_norm_sq', 'model', 'noise_scale', 'sweep', 'trace_cov']);
    assert.equal(s.sweep.length, 9);
    await assert.rejects(runExplain(['--batch', '40']), (e: unknown) => e instanceof UsageError && /--batch must be at most 32/.test(e.message));
  });
});

describe('steps against examples', () => {
  it('fits S = S_min + E_min / B exactly on points made from the model', () => {
    // S_min = 10, E_min = 320 (B_crit = 32): B = 8 -> 10 + 40 = 50 steps; B = 32 -> 20; B = 128 -> 12.5
    const f = fitStepsExamples([
      { batch_size: 8, steps: 50 },
      { batch_size: 32, steps: 20 },
      { batch_size: 128, steps: 12.5 },
    ]);
    assertClose([f.sMin, f.eMin], [10, 320], { atol: 1e-9, rtol: 0 });
    assert.throws(() => fitStepsExamples([{ batch_size: 8, steps: 50 }]), /need at least 2 batch sizes/);
  });

  it('trains to the target at each batch size: fewer steps but more examples as B grows', async () => {
    const { text, json } = await explainReport({ tradeoff: true });
    const t = json.tradeoff!;
    assert.deepEqual(
      t.points.map((p) => p.batch_size),
      [4, 16, 64, 256],
    );
    for (let i = 1; i < t.points.length; i++) {
      assert.ok(t.points[i]!.steps < t.points[i - 1]!.steps, 'steps fall as the batch grows');
      assert.ok(t.points[i]!.examples > t.points[i - 1]!.examples, 'examples rise as the batch grows');
    }
    for (const p of t.points) {
      assert.equal(p.examples, p.steps * p.batch_size);
      assertClose(p.predicted_steps, t.s_min * (1 + t.b_crit / p.batch_size), { atol: 1e-9, rtol: 1e-12 });
    }
    assertClose(t.b_crit, t.e_min / t.s_min, { atol: 0, rtol: 1e-12 });
    assert.match(text, /STEPS OR EXAMPLES\?/);
  });
});
