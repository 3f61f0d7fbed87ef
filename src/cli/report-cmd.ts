/** `descent report RUN_DIR` and `descent compare RUN_A RUN_B ...`: rebuild and compare run pages. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeComparePage, writeReport } from '../report/index.js';
import { UsageError } from './errors.js';

const REPORT_EXAMPLES = `
Examples:
  $ descent report runs/exp1                       # writes runs/exp1/report.html
  $ descent report runs/exp1 --out /tmp/exp1.html

The page is one self-contained HTML file (it opens offline): loss, accuracy, learning rate,
throughput, gradient statistics when logged, the confusion matrix and misclassified test images.`;

const COMPARE_EXAMPLES = `
Examples:
  $ descent compare runs/sgd runs/adam             # writes compare.html here
  $ descent compare runs/lr-* --out lr-sweep.html`;

/** A run folder the user named: it must exist and hold what descent train writes. */
function runFolder(dir: string): string {
  if (!existsSync(dir)) throw new UsageError(`${dir} does not exist (expected a run folder written by descent train)`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a folder (expected a run folder written by descent train)`);
  if (!['metrics.jsonl', 'config.json', 'summary.json'].some((f) => existsSync(join(dir, f)))) {
    throw new UsageError(`${dir} has no metrics.jsonl, config.json or summary.json (expected a run folder written by descent train)`);
  }
  return dir;
}

/** Add `report` and `compare` to the program. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('rebuild the self-contained report.html of a run folder')
    .argument('<run-dir>', 'a run folder written by descent train')
    .option('--out <file>', 'where to write the page (default RUN_DIR/report.html)')
    .addHelpText('after', REPORT_EXAMPLES)
    .action((dir: string, opts: { out?: string }) => {
      const out = writeReport(runFolder(dir), { out: opts.out });
      process.stderr.write(`descent: wrote ${out}\n`);
    });

  program
    .command('compare')
    .description('write one page overlaying the curves of several runs')
    .argument('<run-dirs...>', 'two or more run folders written by descent train')
    .option('--out <file>', 'where to write the page', 'compare.html')
    .addHelpText('after', COMPARE_EXAMPLES)
    .action((dirs: string[], opts: { out: string }) => {
      if (dirs.length < 2) throw new UsageError(`compare needs at least two run folders, got ${dirs.length}`);
      const out = writeComparePage(dirs.map(runFolder), { out: opts.out });
      process.stderr.write(`descent: wrote ${out} comparing ${dirs.length} runs\n`);
    });
}
