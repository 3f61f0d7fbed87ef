/**
 * The run folder from the command line (issue 12, "never lose work"): a bad --out, a folder that
 * already holds a run, and a damaged, mixed or incomplete checkpoint under --resume or evaluate
 * are exit code 2 with one line naming the path and what was expected, and nothing is written.
 * A resume goes on in the run's own folder and cuts metrics.jsonl back to the checkpoint.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertRejected, cliInProcess as cli } from './helpers.js';
import '../helpers.js';

const base = mkdtempSync(join(tmpdir(), 'descent-runfolder-'));
after(() => rmSync(base, { recursive: true, force: true }));

const TRAIN = ['train', '--data', 'iris', '--model', 'mlp:8', '--batch-size', '16', '--log-every', '1', '--no-progress'];
const train = (out: string, epochs = 2, ...flags: string[]) => cli(...TRAIN, '--epochs', String(epochs), '--out', out, ...flags);

/** Every entry of a folder with its size, links shown with their target (what "nothing written" compares). */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => {
      const p = join(e.parentPath, e.name);
      const st = lstatSync(p);
      return `${p}:${st.isSymbolicLink() ? '->' + readlinkSync(p) : st.isDirectory() ? 'dir' : st.size + ':' + readFileSync(p).toString('base64').slice(0, 64)}`;
    })
    .sort();
}

let trained: string;
before(async () => {
  trained = join(base, 'trained');
  const r = await train(trained, 3);
  assert.equal(r.code, 0, r.err);
});

describe('--out', () => {
  it('a file is refused', async () => {
    const f = join(base, 'a-file');
    writeFileSync(f, 'x');
    assertRejected(await train(f), /--out: .*a-file is a file; expected a folder/);
    assert.equal(readFileSync(f, 'utf8'), 'x');
  });

  it('a path through a file cannot be created', async () => {
    const f = join(base, 'another-file');
    writeFileSync(f, 'x');
    assertRejected(await train(join(f, 'run')), /--out: cannot create the folder .*another-file\/run \(a part of the path is a file\)/);
  });

  it('a folder that cannot be made is refused before training, without hanging', async () => {
    // /sys and /proc take no new folders, even from root (and Node's recursive mkdir never returns under /proc)
    assertRejected(await train('/sys/descent-run'), /--out: cannot create the folder \/sys\/descent-run \(operation not permitted\)/);
    assertRejected(await train('/proc/descent-run/x'), /--out: cannot create the folder \/proc\/descent-run\/x/);
  });

  it('a folder holding a run is refused without --overwrite, and left as it was', async () => {
    const before = snapshot(trained);
    assertRejected(
      await train(trained),
      /--out: .*trained already holds a run \(config\.json, metrics\.jsonl, checkpoint, summary\.json\); pass --overwrite to replace it, or --resume .*checkpoint to continue it/,
    );
    assert.deepEqual(snapshot(trained), before);
  });

  it('--overwrite replaces the run (its files only) and keeps what else is there', async () => {
    const dir = join(base, 'overwritten');
    assert.equal((await train(dir, 3)).code, 0);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const r = await train(dir, 1, '--overwrite');
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'mine');
    const epochs = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === 'epoch');
    assert.deepEqual(
      epochs.map((e) => e.epoch),
      [1],
    );
    assert.equal(readdirSync(dir).filter((n) => /^checkpoint-\d+$/.test(n)).length, 1);
  });
});

describe('--resume', () => {
  it("continues in the run's own folder: one line per epoch and step, one checkpoint folder", async () => {
    const dir = join(base, 'resumed');
    assert.equal((await train(dir, 2)).code, 0);
    // An interrupted epoch's lines after the checkpoint (as a crash would leave them) are cut.
    const ckptBytes = readFileSync(join(dir, 'metrics.jsonl')).length;
    writeFileSync(join(dir, 'metrics.jsonl'), readFileSync(join(dir, 'metrics.jsonl'), 'utf8') + '{"type":"step","step":999}\n{"type":"st');
    const r = await cli('train', '--resume', join(dir, 'checkpoint'), '--epochs', '4', '--no-progress');
    assert.equal(r.code, 0, r.err);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(readFileSync(join(dir, 'metrics.jsonl')).length > ckptBytes);
    assert.deepEqual(
      lines.filter((l) => l.type === 'epoch').map((l) => l.epoch),
      [1, 2, 3, 4],
    );
    const steps = lines.filter((l) => l.type === 'step').map((l) => l.step);
    assert.deepEqual(
      steps,
      Array.from({ length: steps.length }, (_, i) => i + 1),
    );
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('checkpoint')).length, 2, 'the link and one folder');
  });

  it('a flag that would change the run is refused', async () => {
    assertRejected(await cli('train', '--resume', join(trained, 'checkpoint'), '--lr', '0.5'), /--lr cannot be combined with --resume/);
  });

  describe('a damaged checkpoint is exit 2 and one line naming the file, for --resume and evaluate', () => {
    /** A copy of the trained run whose checkpoint folder is damaged by `harm`. */
    const damaged = (name: string, harm: (ckpt: string) => void): string => {
      const dir = join(base, `damaged-${name}`);
      cpSync(trained, dir, { recursive: true, verbatimSymlinks: true });
      harm(join(dir, 'checkpoint'));
      return join(dir, 'checkpoint');
    };
    const cases: [string, (c: string) => void, RegExp][] = [
      [
        'flipped byte',
        (c) => {
          const f = join(c, 'model.safetensors');
          const b = readFileSync(f);
          b[b.length - 3]! ^= 0x40;
          writeFileSync(f, b);
        },
        /model\.safetensors: its SHA-256 does not match checkpoint\.json/,
      ],
      [
        'truncated file',
        (c) => {
          const f = join(c, 'optimizer.safetensors');
          writeFileSync(f, readFileSync(f).subarray(0, 40));
        },
        /optimizer\.safetensors: has 40 bytes, checkpoint\.json says \d+/,
      ],
      ['missing file', (c) => rmSync(join(c, 'optimizer.safetensors')), /optimizer\.safetensors: is missing \(the checkpoint is incomplete\)/],
      [
        'weights of another checkpoint',
        (c) => cpSync(join(base, 'trained-other', 'checkpoint', 'model.safetensors'), join(c, 'model.safetensors')),
        /model\.safetensors: (has \d+ bytes|its SHA-256 does not match)/,
      ],
      [
        'torn json',
        (c) => writeFileSync(join(c, 'checkpoint.json'), readFileSync(join(c, 'checkpoint.json'), 'utf8').slice(0, 50)),
        /checkpoint\.json: is not valid JSON/,
      ],
      ['json of another kind', (c) => writeFileSync(join(c, 'checkpoint.json'), '[1,2]'), /checkpoint\.json: expected a JSON object/],
      [
        'bad step',
        (c) => {
          const f = join(c, 'checkpoint.json');
          const m = JSON.parse(readFileSync(f, 'utf8'));
          m.step = -1;
          writeFileSync(f, JSON.stringify(m));
        },
        /checkpoint\.json: step is -1, expected a non-negative integer/,
      ],
      [
        'dangling link',
        (c) => {
          rmSync(c);
          symlinkSync('checkpoint-404', c);
        },
        /cannot be resolved .*the link points nowhere/,
      ],
    ];
    before(async () => {
      assert.equal((await train(join(base, 'trained-other'), 1, '--seed', '9')).code, 0);
    });
    for (const [name, harm, pattern] of cases) {
      it(name, async () => {
        const ckpt = damaged(name.replace(/\W/g, '-'), harm);
        const before = snapshot(join(ckpt, '..'));
        assertRejected(await cli('train', '--resume', ckpt, '--epochs', '5', '--no-progress'), pattern);
        assert.deepEqual(snapshot(join(ckpt, '..')), before, 'nothing written');
        assertRejected(await cli('evaluate', ckpt), pattern);
      });
    }
  });

  it('leftovers of a crash are removed at the next start: temporary folders, links and files, the write probe, unreferenced checkpoints', async () => {
    const dir = join(base, 'leftovers');
    cpSync(trained, dir, { recursive: true, verbatimSymlinks: true });
    // pid 2^22 + 1 is above Linux's pid_max default range of running processes: a dead writer.
    mkdirSync(join(dir, '.tmp-checkpoint-4194305-1'));
    writeFileSync(join(dir, '.tmp-checkpoint-4194305-1', 'model.safetensors'), 'half');
    symlinkSync('checkpoint-1', join(dir, '.tmp-link-4194305-2'));
    writeFileSync(join(dir, 'summary.json.tmp-4194305-3'), '{');
    writeFileSync(join(dir, '.tmp-probe-4194305-0'), ''); // the CLI's write probe, killed before it removed it
    mkdirSync(join(dir, 'checkpoint-7'));
    const r = await cli('train', '--resume', join(dir, 'checkpoint'), '--epochs', '4', '--no-progress');
    assert.equal(r.code, 0, r.err);
    const names = readdirSync(dir).sort();
    assert.deepEqual(
      names.filter((n) => n.includes('.tmp') || n === 'checkpoint-7'),
      [],
    );
    assert.ok(existsSync(join(dir, 'checkpoint', 'checkpoint.json')));
  });
});
