/**
 * The CLI's standard output. Commands print through `stdout()` rather than process.stdout, so a
 * test that runs the CLI in its own process can collect what it prints (`collectStdout`) without
 * replacing process.stdout.write, which the test runner itself writes its results through.
 */
let sink: ((s: string) => void) | null = null;

export function stdout(s: string): void {
  if (sink) sink(s);
  else process.stdout.write(s);
}

/** Run `fn` with the CLI's standard output going to `into` instead of process.stdout. */
export async function collectStdout<T>(into: (s: string) => void, fn: () => Promise<T>): Promise<T> {
  const before = sink;
  sink = into;
  try {
    return await fn();
  } finally {
    sink = before;
  }
}
