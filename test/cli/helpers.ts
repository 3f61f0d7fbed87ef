/** Running the CLI in a test: in this process (fast) and checking the one-line-error promise. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { collectStdout } from '../../src/cli/io.js';
import { run } from '../../src/cli/main.js';

/** Run the CLI in this process, capturing stdout and stderr; resolves to the exit code and both texts. */
export async function cliInProcess(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [],
    err: string[] = [];
  // stdout through the CLI's own sink: the test runner reports through process.stdout, which must
  // stay untouched (replacing it lost the runner's lines for the tests that ran meanwhile).
  const w = process.stderr.write;
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const code = await collectStdout(
      (s) => out.push(s),
      () => run(args),
    );
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stderr.write = w;
  }
}

/** Exit code 2, exactly one line on stderr (`descent: error: ...` matching `pattern`), no stack trace; `out` not created. */
export function assertRejected(r: { code: number | null; err: string }, pattern: RegExp, out?: string): void {
  assert.equal(r.code, 2, `exit code; stderr: ${r.err}`);
  const lines = r.err.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${r.err}`);
  assert.match(lines[0]!, /^descent: error: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  if (out) assert.ok(!existsSync(out), `${out} must not be created`);
}

/** Deterministic bytes in [0, mod) from a 32-bit LCG (with mod 256 every value occurs): test images and labels. */
export function lcgBytes(n: number, seed: number, mod = 256): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 24) % mod;
  }
  return out;
}
