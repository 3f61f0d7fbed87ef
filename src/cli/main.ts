/**
 * The `descent` command. Every failure the user can fix (an unknown flag, a bad value, a missing
 * or corrupt file) is one line on stderr and exit code 2; nothing prints a stack trace unless
 * DESCENT_DEBUG=1 is set.
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from './errors.js';
import { CheckpointError } from '../train/checkpoint.js';
import { defineCommand, type ExitCode } from './command.js';
import { CSV_HELP, registerEvaluate, registerPredict } from './eval-cmd.js';
import { registerExplain } from './explain-cmd.js';
import { registerExport } from './export-cmd.js';
import { registerInfo } from './info-cmd.js';
import { registerPlayground } from './playground-cmd.js';
import { RUN_OPTIONS, TRAIN_OPTIONS } from './options.js';
import { registerReport } from './report-cmd.js';
import { trainCommand } from './train-cmd.js';
import { MODEL_SPEC_HELP } from './model-spec.js';
import { SCHEDULE_NAMES } from '../optim/registry.js';
import { stdout } from './io.js';

const TRAIN_EXAMPLES = `
Examples:
  $ descent train                                   # the built-in Fashion-MNIST subset, default MLP
  $ descent train --model mlp:512,256 --optimizer adam --lr 1e-3 --epochs 10
  $ descent train --data /usr/share/datasets/fashion-mnist --model mlp:512,256 \\
      --batch-size 128 --epochs 5 --optimizer sgd --lr 0.05 --momentum 0.9 --seed 0 --json
  $ descent train --data ./my-csv-folder --label-column species --model mlp:16 --epochs 50
  $ descent train --config run.json --out runs/exp1
  $ descent train --resume runs/exp1/checkpoint --epochs 20

Data: a built-in name (fashion-mnist, iris) or a folder holding IDX files
(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...) or CSV files (train.csv, test.csv).
${CSV_HELP}
Data that cannot train is an error (exit 2) before anything is built: no examples, fewer than 2 training
examples left after the test split (20% of train.csv when there is no test.csv) and --val-split, a single
class, an empty test split, a test label the training data does not have. The memory a run needs
(parameters, gradients, optimizer state, one batch) is estimated from sizes before the model is built:
more than the backend can hold (wasm: 2 GiB) or than --max-memory is an error too.
Models: linear | mlp:H1,H2,... (hidden sizes) | cnn | a layer spec:
${MODEL_SPEC_HELP}
Convolutional models (cnn or any spec with conv) default to --schedule onecycle.
Schedules: ${SCHEDULE_NAMES.join(' | ')}.
Backends: --backend js (the reference kernels) or wasm (WebAssembly SIMD, threads), the same as DESCENT_BACKEND;
descent info shows what this machine has.
The run folder gets metrics.jsonl, config.json, summary.json, report.html, test-predictions.json and
checkpoint/ (docs/run-folder.md).`;

function buildProgram(out: ExitCode): Command {
  const program = new Command('descent')
    .description('Train neural networks by mini-batch gradient descent, and see what each batch does.')
    .version('0.1.0')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout(s), writeErr: (s) => process.stderr.write(s), outputError: () => {} });
  defineCommand(
    program,
    {
      name: 'train',
      description: 'train a model and evaluate it on the test split after every epoch',
      options: { ...TRAIN_OPTIONS, ...RUN_OPTIONS },
      help: TRAIN_EXAMPLES,
      run: (_args, opts, cmd) => trainCommand(opts, cmd),
    },
    out,
  );
  registerEvaluate(program, out);
  registerPredict(program, out);
  registerExport(program, out);
  registerReport(program, out);
  registerExplain(program, out);
  registerInfo(program, out);
  registerPlayground(program, out);
  return program;
}

/** Run the CLI with the given arguments; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const out = { code: 0 };
  const program = buildProgram(out);
  try {
    if (argv.length === 0) {
      // No command: the list of commands, on stderr, and the exit code of a usage error.
      process.stderr.write(program.helpInformation());
      return 2;
    }
    await program.parseAsync(argv, { from: 'user' });
    return out.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      process.stderr.write(`descent: ${e.message.replace(/^error: /, 'error: ')}\n`);
      return 2;
    }
    if (process.env.DESCENT_DEBUG === '1') console.error(e);
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`descent: error: ${msg.split('\n')[0]}\n`);
    return e instanceof UsageError || e instanceof CheckpointError ? 2 : 1;
  }
}
