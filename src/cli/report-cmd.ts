/** `descent report RUN_DIR` and `descent compare RUN_A RUN_B ...`: rebuild and compare run pages. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeComparePage, writeReport } from '../report/index.js';
import { UsageError } from './errors.js';
import { defineCommand, type ExitCode } from './command.js';

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
export function registerReport(program: Command, exit?: ExitCode): void {
  defineCommand(
    program,
    {
      name: 'report',
      description: 'rebuild the self-contained report.html of a run folder',
      args: [['<run-dir>', 'a run folder written by descent train']],
      options: { out: { flags: '--out <file>', help: 'where to write the page (default RUN_DIR/report.html)' } },
      help: REPORT_EXAMPLES,
      run: ([dir], opts) => {
        const out = writeReport(runFolder(dir as string), { out: opts.out as string | undefined });
        process.stderr.write(`descent: wrote ${out}\n`);
      },
    },
    exit,
  );
  defineCommand(
    program,
    {
      name: 'compare',
      description: 'write one page overlaying the curves of several runs',
      args: [['<run-dirs...>', 'two or more run folders written by descent train']],
      options: { out: { flags: '--out <file>', help: 'where to write the page', default: 'compare.html' } },
      help: COMPARE_EXAMPLES,
      run: ([dirs], opts) => {
        const list = dirs as string[];
        if (list.length < 2) throw new UsageError(`compare needs at least two run folders, got ${list.length}`);
        const out = writeComparePage(list.map(runFolder), { out: opts.out as string });
        process.stderr.write(`descent: wrote ${out} comparing ${list.length} runs\n`);
      },
    },
    exit,
  );
}
