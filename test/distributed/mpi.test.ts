/**
 * Data-parallel training under a real `mpirun -np 2` on loopback (Open MPI): the ranks' weights
 * against one process with --accumulate 2 (bit for bit) and with a batch twice as large (float32
 * tolerance), resuming with another number of ranks, fit() with a communicator, a killed rank and
 * ranks started with different options. Skipped, saying why, where mpirun or the MPI addon is
 * missing (.ci/run installs Open MPI, and `npm ci` builds the addon when it finds mpicc).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkpointFrom } from '../../src/node/index.js';
import { checkpointState, cli, env, json, root, sha, skip, tsx } from './mpi-setup.js';

const dir = mkdtempSync(join(tmpdir(), 'descent-mpi-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** mpirun with one command for every rank (or, with `apps`, one per rank: MPMD). */
function mpirun(np: number, args: string[], apps?: string[][]) {
  const node = [process.execPath, '--import', tsx, cli];
  const argv = apps ? apps.flatMap((a, i) => [...(i ? [':'] : []), '-np', '1', ...node, ...a]) : ['-np', String(np), ...node, ...args];
  return spawnSync('mpirun', ['--oversubscribe', ...argv], { env, encoding: 'utf8', timeout: 120_000 });
}

function descent(args: string[]) {
  return spawnSync(process.execPath, ['--import', tsx, cli, ...args], { env, encoding: 'utf8', timeout: 120_000 });
}

function ok(r: ReturnType<typeof spawnSync>): void {
  assert.equal(r.status, 0, `exit ${r.status}: ${String(r.stderr).slice(-2000)}`);
}

describe('data-parallel training over MPI', { skip }, () => {
  const small = ['--model', 'mlp:64', '--seed', '1', '--no-progress'];

  it('2 ranks train the weights of one process with --accumulate 2, bit for bit, without and with dropout', () => {
    // 6,000 examples in batches of 64: 94 batches, 47 updates of 2 per epoch.
    ok(mpirun(2, ['train', '--batch-size', '64', '--epochs', '2', '--out', join(dir, 'ranks'), '--no-progress', '--log-every', '1']));
    ok(descent(['train', '--batch-size', '64', '--accumulate', '2', '--epochs', '2', '--out', join(dir, 'accumulate'), '--no-progress']));
    assert.deepEqual(checkpointState(join(dir, 'ranks')), checkpointState(join(dir, 'accumulate')));
    const cfg = json(join(dir, 'ranks', 'config.json'));
    assert.equal(cfg.ranks, 2);
    assert.equal(cfg.globalBatch, 128); // batch size 64 x accumulate 1 x 2 ranks
    // Dropout, and batches of 90: 67 batches, so the last update holds one batch of 60 (rank 0's);
    // gradient clipping applies to the averaged gradient, after the allreduce.
    const dropout = [...small, '--dropout', '0.3', '--batch-size', '90', '--epochs', '2', '--clip-grad-norm', '0.5'];
    const r = mpirun(2, ['train', ...dropout, '--out', join(dir, 'ranks-dropout')]);
    ok(r);
    assert.match(r.stderr, /batch 90 per rank x 2 MPI ranks = global batch 180/);
    ok(descent(['train', ...dropout, '--accumulate', '2', '--out', join(dir, 'accumulate-dropout')]));
    assert.deepEqual(checkpointState(join(dir, 'ranks-dropout')), checkpointState(join(dir, 'accumulate-dropout')));
  });

  it('2 ranks x 64 train as one process at batch 128 does, to float32 tolerance', () => {
    ok(descent(['train', '--batch-size', '128', '--epochs', '2', '--out', join(dir, 'batch128'), '--no-progress', '--log-every', '1']));
    const a = json(join(dir, 'ranks', 'summary.json'));
    const b = json(join(dir, 'batch128', 'summary.json'));
    // The same gradient (the mean over the same 128 examples), summed in another order.
    assert.ok(Math.abs(a.train_loss - b.train_loss) <= 1e-4 * b.train_loss, `train loss ${a.train_loss} vs ${b.train_loss}`);
    assert.ok(Math.abs(a.test_accuracy - b.test_accuracy) <= 0.003, `test accuracy ${a.test_accuracy} vs ${b.test_accuracy}`);
    const lines = (run: string, type: string) =>
      readFileSync(join(dir, run, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((l) => l.type === type);
    // Step by step: rank 0 logs each update's loss over both ranks' 64 examples, which are the
    // 128 examples of the same step at batch 128 (the same shuffled order).
    const [sa, sb] = [lines('ranks', 'step'), lines('batch128', 'step')];
    assert.equal(sa.length, 94);
    for (let i = 0; i < 50; i++) {
      assert.equal(sa[i].step, sb[i].step);
      assert.ok(Math.abs(sa[i].loss - sb[i].loss) <= 1e-4 * sb[i].loss, `step ${sa[i].step}: loss ${sa[i].loss} vs ${sb[i].loss}`);
    }
    const [ea, eb] = [lines('ranks', 'epoch'), lines('batch128', 'epoch')];
    // Accumulation on each rank: 2 ranks x accumulate 2 make the updates of accumulate 4.
    const acc = ['train', '--model', 'mlp:32', '--seed', '1', '--no-progress', '--epochs', '1', '--batch-size', '50'];
    ok(mpirun(2, [...acc, '--accumulate', '2', '--out', join(dir, 'ranks-acc')]));
    ok(descent([...acc, '--accumulate', '4', '--out', join(dir, 'acc4')]));
    const [x, y] = [json(join(dir, 'ranks-acc', 'summary.json')), json(join(dir, 'acc4', 'summary.json'))];
    assert.ok(Math.abs(x.train_loss - y.train_loss) <= 1e-5 * y.train_loss, `accumulate: ${x.train_loss} vs ${y.train_loss}`);
    assert.equal(lines('ranks-acc', 'epoch')[0].step, 30); // 120 batches of 50, 4 per update
    assert.equal(ea.length, 2);
    for (let i = 0; i < 2; i++) {
      assert.equal(ea[i].step, eb[i].step); // 47 updates per epoch in both
      assert.ok(Math.abs(ea[i].train_loss - eb[i].train_loss) <= 1e-4 * eb[i].train_loss, `epoch ${i + 1}: ${ea[i].train_loss} vs ${eb[i].train_loss}`);
    }
  });

  it('DP-SGD clips per example on each rank and adds its noise once per global step: one process at batch 128', () => {
    const args = [...small, '--epochs', '1', '--dp-clip', '1', '--dp-noise', '1'];
    ok(mpirun(2, ['train', ...args, '--batch-size', '64', '--out', join(dir, 'dp-ranks')]));
    ok(descent(['train', ...args, '--batch-size', '128', '--out', join(dir, 'dp-one')]));
    const [a, b] = [json(join(dir, 'dp-ranks', 'summary.json')), json(join(dir, 'dp-one', 'summary.json'))];
    // The same noise (one draw per step from the same seed), the same privacy accounting (q = 128 / 6,000).
    assert.ok(Math.abs(a.train_loss - b.train_loss) <= 1e-4 * b.train_loss, `train loss ${a.train_loss} vs ${b.train_loss}`);
    assert.equal(a.privacy.batch_size, 128);
    assert.equal(a.privacy.epsilon, b.privacy.epsilon);
  });

  it('--grad-stats lines carry the two-batch noise estimate (one rank batch against the global batch) beside the per-example one', () => {
    ok(mpirun(2, ['train', '--model', 'mlp:32', '--seed', '1', '--no-progress', '--epochs', '1', '--grad-stats', '1', '--out', join(dir, 'stats')]));
    const stats = readFileSync(join(dir, 'stats', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === 'stats');
    assert.equal(stats.length, 47); // one per update
    assert.deepEqual([stats[0].ddp_batch_small, stats[0].ddp_batch_big], [64, 128]);
    // The last update: 64 + 48 examples (6,000 = 46 x 128 + 112), 56 per rank on average.
    assert.deepEqual([stats.at(-1).ddp_batch_small, stats.at(-1).ddp_batch_big], [56, 112]);
    // Both estimate tr(Sigma), each step noisily: their means over the epoch agree.
    const mean = (k: string) => stats.reduce((s, r) => s + r[k], 0) / stats.length;
    const ratio = mean('ddp_trace_cov') / mean('trace_cov');
    assert.ok(ratio > 0.67 && ratio < 1.5, `tr(Sigma): two-batch ${mean('ddp_trace_cov')}, per-example ${mean('trace_cov')}`);
  });

  it('a non-finite loss stops every rank at that update, keeping the last good weights of --accumulate 2', () => {
    const args = ['train', '--model', 'mlp:32', '--seed', '1', '--no-progress', '--epochs', '1', '--lr', '1e20'];
    const r = mpirun(2, [...args, '--out', join(dir, 'diverged')]);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.match(/descent: training diverged at step 2 \(epoch 1\): the loss is NaN/g)?.length, 1, r.stderr);
    assert.equal(descent([...args, '--accumulate', '2', '--out', join(dir, 'diverged-one')]).status, 1);
    const last = (run: string) => sha(join(dir, run, 'checkpoint-last-good', 'model.safetensors'));
    assert.equal(last('diverged'), last('diverged-one'));
  });

  it('resumes with another number of ranks, keeping the global batch: the same training', () => {
    const args = [...small, '--batch-size', '90', '--dropout', '0.2', '--schedule', 'none'];
    ok(mpirun(2, ['train', ...args, '--epochs', '1', '--out', join(dir, 'resumed')]));
    // One process continues with accumulate 2 (1 x 2 ranks), then 2 ranks again with accumulate 1.
    ok(descent(['train', '--resume', join(dir, 'resumed', 'checkpoint'), '--epochs', '2', '--no-progress']));
    assert.equal(json(join(dir, 'resumed', 'config.json')).accumulate, 2);
    ok(mpirun(2, ['train', '--resume', join(dir, 'resumed', 'checkpoint'), '--epochs', '3', '--no-progress']));
    ok(mpirun(2, ['train', ...args, '--epochs', '3', '--out', join(dir, 'straight')]));
    assert.deepEqual(checkpointState(join(dir, 'resumed')), checkpointState(join(dir, 'straight')));
    const bad = mpirun(3, ['train', '--resume', join(dir, 'resumed', 'checkpoint'), '--epochs', '4', '--no-progress']);
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr.match(/descent: error: --resume: each update of this run takes 2 micro-batches .* 3 ranks cannot share evenly/g)?.length, 1);
  });

  it('fit() with a communicator: dropout as one process draws it; BatchNorm normalises per rank and averages its running statistics', () => {
    const r = spawnSync('mpirun', ['--oversubscribe', '-np', '2', process.execPath, '--import', tsx, join(root, 'test/distributed/fit-ranks.ts')], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    ok(r);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(out.ranks, 2);
    assert.equal(out.dropoutIdentical, true);
    // Each micro-batch is normalised by its own statistics under --accumulate 2 as on two ranks...
    assert.equal(out.batchnormWeightsIdentical, true);
    // ...but the running statistics differ: each rank updates them from its own batches only, and
    // they are averaged over the ranks at each epoch's end (one process updates them in sequence).
    assert.ok(out.buffers > 0 && out.batchnormRunningStatsDiff > 1e-4, JSON.stringify(out));
  });

  it('a killed rank ends the job within 30 s with a clear error, and the last checkpoint is intact', async () => {
    const out = join(dir, 'killed');
    const job = spawn('mpirun', ['--oversubscribe', '-np', '2', process.execPath, '--import', tsx, cli, 'train', ...small, '--epochs', '200', '--out', out], {
      env,
    });
    let stderr = '';
    job.stderr.on('data', (b) => (stderr += b));
    const exited = new Promise<number | null>((res) => job.on('exit', (code) => res(code)));
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(out, 'checkpoint')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(join(out, 'checkpoint')), `no checkpoint was written: ${stderr}`);
    const rank1 = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .find((p) => {
        try {
          return (
            readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes('OMPI_COMM_WORLD_RANK=1') &&
            readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(out)
          );
        } catch {
          return false;
        }
      });
    assert.ok(rank1, 'rank 1 was not found');
    const t0 = Date.now();
    process.kill(Number(rank1), 'SIGKILL');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
    if (code === 'timeout') job.kill('SIGKILL');
    assert.notEqual(code, 'timeout', `the job still ran 30 s after rank 1 was killed: ${stderr}`);
    assert.notEqual(code, 0);
    assert.ok(Date.now() - t0 < 30_000);
    assert.match(stderr, /rank 1 .*exited on signal 9/);
    // Rank 0 was stopped at any point of its step or checkpoint write: the published one verifies.
    const checkpoint = checkpointFrom(join(out, 'checkpoint'));
    assert.ok(checkpoint.meta.step > 0);
  });

  it('ranks started with different options stop at once with one line and exit code 2, writing nothing', () => {
    const out = join(dir, 'mismatch');
    const base = ['train', ...small, '--epochs', '1', '--out', out];
    const r = mpirun(
      2,
      [],
      [
        [...base, '--lr', '0.1'],
        [...base, '--lr', '0.2'],
      ],
    );
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.match(/descent: error: the 2 MPI ranks disagree on --lr; start every rank with the same command/g)?.length, 1, r.stderr);
    assert.ok(!existsSync(out));
  });
});
