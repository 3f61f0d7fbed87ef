import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import '../helpers.js';
import { registerReport } from '../../src/cli/report-cmd.js';
import { UsageError } from '../../src/cli/errors.js';
import { removeTempDirs, tempDir } from './fixtures.js';

after(removeTempDirs);

function program(): Command {
  const p = new Command('descent').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  registerReport(p);
  return p;
}

function smallRun(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model: 'linear', epochs: 1 }));
  writeFileSync(
    join(dir, 'metrics.jsonl'),
    JSON.stringify({ type: 'epoch', epoch: 1, step: 3, train_loss: 1, lr: 0.1, seconds: 1, examples_per_second: 10 }) + '\n',
  );
  return dir;
}

describe('descent report / compare', () => {
  it('report rebuilds RUN_DIR/report.html, or writes --out', async () => {
    const dir = smallRun(join(tempDir(), 'run1'));
    await program().parseAsync(['report', dir], { from: 'user' });
    assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /<title>Descent run run1<\/title>/);
    const out = join(tempDir(), 'r.html');
    await program().parseAsync(['report', dir, '--out', out], { from: 'user' });
    assert.ok(existsSync(out));
  });

  it('compare writes one page for several runs', async () => {
    const root = tempDir();
    const a = smallRun(join(root, 'a')),
      b = smallRun(join(root, 'b'));
    const out = join(root, 'cmp.html');
    await program().parseAsync(['compare', a, b, '--out', out], { from: 'user' });
    assert.match(readFileSync(out, 'utf8'), /<title>Descent: a vs b<\/title>/);
  });

  it('reports a missing or foreign folder, and a single run to compare, as usage errors', async () => {
    const empty = tempDir();
    await assert.rejects(
      program().parseAsync(['report', join(empty, 'nope')], { from: 'user' }),
      (e) => e instanceof UsageError && /nope does not exist/.test(e.message),
    );
    await assert.rejects(
      program().parseAsync(['report', empty], { from: 'user' }),
      (e) => e instanceof UsageError && /has no metrics\.jsonl, config\.json or summary\.json/.test(e.message),
    );
    const a = smallRun(join(empty, 'a'));
    await assert.rejects(
      program().parseAsync(['compare', a], { from: 'user' }),
      (e) => e instanceof UsageError && /at least two run folders, got 1/.test(e.message),
    );
  });

  it('has --help with examples', () => {
    const p = program();
    const help = p.commands.find((c) => c.name() === 'compare')!;
    let text = '';
    help.configureOutput({
      writeOut: (s) => {
        text += s;
      },
    });
    assert.throws(() => p.parse(['compare', '--help'], { from: 'user' }));
    assert.match(text, /Examples:\n {2}\$ descent compare runs\/sgd runs\/adam/);
  });
});
