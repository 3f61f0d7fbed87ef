/**
 * The one way a command is added to `descent`: a CommandSpec (name, arguments, its option table,
 * help, and a function returning the exit code) given to defineCommand.
 */
import type { Command } from 'commander';
import { addOptions, type OptionTable } from './options.js';

/** Where a command's action leaves its exit code for run() to return. */
export interface ExitCode {
  code: number;
}

export interface CommandSpec {
  name: string;
  description: string;
  /** Positional arguments: ['<checkpoint-dir>', 'help'], in order. */
  args?: readonly (readonly [string, string])[];
  options: OptionTable;
  /** Shown after the option list: examples and notes. */
  help?: string;
  /** The positional arguments (a variadic one as an array), the options, the command; resolves to the exit code. */
  run: (args: unknown[], opts: Record<string, unknown>, cmd: Command) => number | void | Promise<number | void>;
}

export function defineCommand(program: Command, spec: CommandSpec, exit: ExitCode = { code: 0 }): Command {
  const cmd = program.command(spec.name).description(spec.description);
  for (const [name, help] of spec.args ?? []) cmd.argument(name, help);
  addOptions(cmd, spec.options);
  if (spec.help) cmd.addHelpText('after', spec.help);
  cmd.action(async (...all: unknown[]) => {
    const self = all[all.length - 1] as Command;
    const opts = all[all.length - 2] as Record<string, unknown>;
    exit.code = (await spec.run(all.slice(0, -2), opts, self)) ?? 0;
  });
  return cmd;
}
