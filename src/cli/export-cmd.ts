/**
 * `descent export <checkpoint-dir> --format onnx --out FILE`: a trained model as a file other tools
 * run. onnx: the model in eval mode as ONNX (opset 17), input [batch, inputSize] (flat, as
 * `descent predict` takes it), output the logits [batch, classes]. safetensors: the weights alone,
 * under PyTorch's state-dict keys, for `model.load_state_dict(..., strict=True)` of the same
 * architecture in PyTorch.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { encodeSafetensors } from '../io/safetensors-codec.js';
import { writeFileAtomic } from '../io/atomic.js';
import { exportOnnx } from '../io/onnx/export.js';
import { zeros } from '../ops/index.js';
import { defineCommand, type ExitCode } from './command.js';
import { loadModel, openCheckpoint } from './eval-cmd.js';
import { oneOf, UsageError } from './errors.js';
import { BACKEND_OPTION, useBackend } from './options.js';
import { stdout } from './io.js';

export const EXPORT_FORMATS = ['onnx', 'safetensors'] as const;

function checkOut(out: unknown, overwrite: boolean): string {
  if (typeof out !== 'string' || out === '') throw new UsageError('--out: expected the file to write, e.g. --out model.onnx');
  const parent = dirname(out);
  if (!existsSync(parent) || !statSync(parent).isDirectory()) throw new UsageError(`--out: the folder ${parent} does not exist`);
  if (existsSync(out)) {
    if (statSync(out).isDirectory()) throw new UsageError(`--out: ${out} is a folder; expected a file name`);
    if (!overwrite) throw new UsageError(`--out: ${out} already exists; pass --overwrite to replace it`);
  }
  return out;
}

export async function exportCommand(dir: string, opts: Record<string, unknown>): Promise<number> {
  // the file written is the same whichever backend computes: webgpu would only copy the weights
  // to the GPU and back, so a webgpu choice (flag or DESCENT_BACKEND) exports from the CPU
  const name = BACKEND_OPTION.parse('--backend', opts.backend);
  useBackend(name === 'webgpu' ? undefined : name);
  const format = oneOf('--format', opts.format, EXPORT_FORMATS);
  const out = checkOut(opts.out, opts.overwrite === true);
  const { info } = openCheckpoint(dir);
  const model = loadModel(dir, info);
  let bytes: Uint8Array;
  if (format === 'onnx') {
    try {
      bytes = exportOnnx(model, zeros([1, info.inputSize]));
    } catch (e) {
      throw new UsageError(`export: ${dir}: ${(e as Error).message}`);
    }
  } else {
    bytes = encodeSafetensors(model.stateDict());
  }
  writeFileAtomic(out, bytes);
  const what = format === 'onnx' ? `ONNX opset 17, input [batch, ${info.inputSize}], output [batch, ${info.numClasses}] logits` : 'PyTorch state dict';
  if (opts.json) stdout(JSON.stringify({ format, out, bytes: bytes.length }) + '\n');
  else stdout(`wrote ${out} (${format}: ${what}; ${bytes.length.toLocaleString('en-US')} bytes)\n`);
  return 0;
}

export function registerExport(program: Command, exit?: ExitCode): void {
  defineCommand(
    program,
    {
      name: 'export',
      description: "write a checkpoint's model as ONNX (for ONNX Runtime and other tools) or as a PyTorch state dict",
      args: [['<checkpoint-dir>', 'a checkpoint folder written by descent train']],
      options: {
        format: {
          flags: '--format <format>',
          help: 'onnx: the model (opset 17, dynamic batch); safetensors: the weights under PyTorch state-dict keys',
          default: 'onnx',
          choices: () => EXPORT_FORMATS,
        },
        out: { flags: '--out <file>', help: 'the file to write' },
        overwrite: { flags: '--overwrite', help: 'replace --out if it exists' },
        json: { flags: '--json', help: 'print what was written as one JSON object' },
        backend: BACKEND_OPTION,
      },
      help: `\nExamples:\n  $ descent export runs/exp1/checkpoint --format onnx --out model.onnx\n  $ descent export runs/exp1/checkpoint --format safetensors --out model.safetensors\n\nThe ONNX model takes flat inputs [batch, features] as descent predict does and gives the logits\n(descent predict --json --logits prints the same numbers). Run it with onnxruntime-node:\n  const s = await ort.InferenceSession.create('model.onnx');\n  const { output } = await s.run({ input: new ort.Tensor('float32', x, [n, features]) });`,
      run: ([dir], opts) => exportCommand(dir as string, opts),
    },
    exit,
  );
}
