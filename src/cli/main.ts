/**
 * The `descent` command. Every failure the user can fix (an unknown flag, a bad value, a missing
 * or corrupt file) is one line on stderr and exit code 2; nothing prints a stack trace unless
 * DESCENT_DEBUG=1 is set.
 */
import { Command, CommanderError, Option } from 'commander';
import { UsageError } from './errors.js';
import { CheckpointError } from '../train/checkpoint.js';
import { evaluateCommand, predictCommand } from './eval-cmd.js';
import { registerExplain } from './explain-cmd.js';
import { registerReport } from './report-cmd.js';
import { trainCommand } from './train-cmd.js';
import { MODEL_SPEC_HELP } from './model-spec.js';

const CSV_HELP = `CSV files: the first line is a header if one of its cells is not a number (--header and
--no-header override). Labels that are all integers are class ids (the classes are 0 up to the
largest label in train.csv); other labels are class names, numbered in sorted order from train.csv,
and test.csv and the data given to evaluate and predict are mapped through the same names (a name
not among them is an error). Empty, NaN and infinite feature cells (and values beyond float32, like
1e39) are errors naming the line and column, unless --allow-nan.`;

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
Schedules: none | step | cosine | warmup-cosine | onecycle | exponential | plateau.
The run folder gets metrics.jsonl, config.json, summary.json, report.html, test-predictions.json and
checkpoint/ (docs/run-folder.md).`;

/** --header / --no-header / --allow-nan, for every command that reads CSV files. */
function csvOptions(cmd: Command): Command {
  return cmd
    .option('--header', 'CSV: the first line names the columns (default: it does if one of its cells is not a number)')
    .option('--no-header', 'CSV: the first line is data')
    .option('--allow-nan', 'CSV: read empty, NaN and infinite feature cells as NaN / Inf instead of failing');
}

function buildProgram(out: { code: number }): Command {
  const program = new Command('descent')
    .description('Train neural networks by mini-batch gradient descent, and see what each batch does.')
    .version('0.1.0')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => {} });

  const train = program
    .command('train')
    .description('train a model and evaluate it on the test split after every epoch')
    .option('--data <name|dir>', 'built-in data set name or a folder of IDX/CSV files', 'fashion-mnist')
    .option('--model <spec>', 'model: linear, mlp:H1,H2,..., cnn, or a layer spec (below)', 'mlp:256,128')
    .addOption(new Option('--activation <name>', 'hidden activation').choices(['relu', 'gelu', 'tanh', 'sigmoid', 'elu', 'leakyRelu']).default('relu'))
    .option('--dropout <p>', 'dropout probability after each hidden layer', '0')
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['sgd', 'adam', 'adamw', 'rmsprop', 'adagrad']).default('sgd'))
    .option('--lr <rate>', 'learning rate', '0.05')
    .option('--momentum <m>', 'momentum (sgd, rmsprop)', '0.9')
    .option('--nesterov', 'Nesterov momentum (sgd)')
    .option('--weight-decay <wd>', 'weight decay (L2 for sgd/adam/rmsprop/adagrad, decoupled for adamw)', '0')
    .option('--batch-size <n>', 'examples per mini-batch', '64')
    .option('--epochs <n>', 'passes over the training data', '10')
    .addOption(new Option('--schedule <name>', 'learning-rate schedule (default: cosine for mlp/linear, onecycle for convolutional models)').choices(['none', 'step', 'cosine', 'warmup-cosine', 'onecycle', 'exponential', 'plateau']))
    .option('--warmup-epochs <n>', 'linear warm-up length for warmup-cosine', '1')
    .option('--accumulate <n>', 'micro-batches per update (gradient accumulation)', '1')
    .option('--clip-grad-norm <max>', 'clip the global gradient norm to this value')
    .option('--label-smoothing <eps>', 'cross-entropy label smoothing', '0')
    .option('--val-split <fraction>', 'hold out this fraction of the training data for validation (default: validate on the test split)', '0')
    .option('--early-stopping <patience>', 'stop after this many epochs without improvement of the validation loss')
    .option('--label-column <name>', 'label column for CSV data', 'label')
    .option('--max-memory <size>', 'fail before building the model if training would need more memory than this (e.g. 512M, 2G, or bytes)')
    .option('--grad-stats <every>', 'log gradient statistics (noise scale, per-example gradient norms) every n updates')
    .option('--dp-clip <C>', 'DP-SGD: clip each per-example gradient to this L2 norm')
    .option('--dp-noise <sigma>', 'DP-SGD: Gaussian noise multiplier (noise std = sigma * C on the clipped sum)')
    .option('--seed <n>', 'seed for initialisation, shuffling and dropout', '0')
    .option('--out <dir>', 'run folder (default runs/<date-time>)')
    .option('--config <file>', 'JSON file of options (same names in camelCase); flags given on the command line win')
    .option('--resume <checkpoint-dir>', 'continue a run from its checkpoint folder (in that run\'s folder unless --out is given)')
    .option('--overwrite', 'replace the run already in the --out folder (without it such a folder is refused)')
    .option('--log-every <n>', 'write a step line to metrics.jsonl every n updates', '10')
    .option('--json', 'print the final metrics as one JSON object on the last line of stdout')
    .option('--no-progress', 'no progress bar (a line per epoch is still printed)')
    .option('--dashboard [port]', 'serve a live dashboard on 127.0.0.1 while training (port 0 or none: any free port)');
  csvOptions(train)
    .addHelpText('after', TRAIN_EXAMPLES)
    .action(async (opts, cmd: Command) => {
      out.code = await trainCommand(opts, cmd);
    });

  const evaluate = program
    .command('evaluate')
    .description('evaluate a checkpoint on the test split of its data (or of --data)')
    .argument('<checkpoint-dir>', 'a checkpoint folder written by descent train (e.g. runs/x/checkpoint)')
    .option('--data <name|dir>', 'data set to evaluate on (default: the one it was trained on)')
    .option('--batch-size <n>', 'examples per batch', '256')
    .option('--json', 'print the metrics as one JSON object');
  csvOptions(evaluate)
    .addHelpText('after', `\nExamples:\n  $ descent evaluate runs/exp1/checkpoint\n  $ descent evaluate runs/exp1/checkpoint --data /usr/share/datasets/fashion-mnist --json\n\n${CSV_HELP}\nLabels must be classes the model was trained on; --header and --allow-nan default to the training run's.`)
    .action(async (dir: string, opts) => {
      out.code = await evaluateCommand(dir, opts);
    });

  const predict = program
    .command('predict')
    .description('predict classes with a checkpoint, for test examples or for a file of inputs')
    .argument('<checkpoint-dir>', 'a checkpoint folder written by descent train')
    .option('--input <file>', 'inputs to classify: .npy, .csv (features only) or IDX (raw or .gz)')
    .option('--data <name|dir>', 'take inputs from the test split of this data set (default: the training data)')
    .option('--indices <range>', 'which test examples, e.g. 0:10 or 3,7,9 (default: the first 10)')
    .option('--top <k>', 'show the k most likely classes', '1')
    .option('--json', 'print the predictions as JSON');
  csvOptions(predict)
    .addHelpText('after', `\nExamples:\n  $ descent predict runs/exp1/checkpoint --indices 0:5\n  $ descent predict runs/exp1/checkpoint --input images.npy --top 3 --json\n  $ descent predict runs/exp1/checkpoint --input rows.csv --no-header\n\n--indices takes ranges START:END (END excluded, START < END) and single indices, comma-separated.\n${CSV_HELP}`)
    .action(async (dir: string, opts) => {
      out.code = await predictCommand(dir, opts);
    });
  registerReport(program);
  registerExplain(program);
  return program;
}

/** Run the CLI with the given arguments; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const out = { code: 0 };
  const program = buildProgram(out);
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return 0;
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
