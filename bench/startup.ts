/**
 * Time from process start to the first finished training step (the target: under 300 ms
 * for Descent). Each measurement is a fresh Node process running bench/startup-child.mjs: it
 * imports the library, builds the 784-512-256-10 MLP, runs one step on a batch of 128 and prints
 * performance.now() (counted by Node from the start of the process). The parent also times each
 * child from spawn() to the printed line (spawn_ms: adds fork/exec and Node's own boot).
 *
 * Rows: Descent as users run it (dist/, built by `npm run build`; rebuilt here first when older
 * than src/) on its default backend — the headline — and on the js reference backend (the ratio
 * base); Descent from src/ through tsx (the loader's cost included); TF.js (wasm) and jax-js.
 * Each row reports the median over `runs` processes, after one unmeasured process that warms the
 * file cache. ratio_vs_js = reference ms / row ms, so above 1 means sooner than the reference.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StartupResult {
  name: 'startup_to_first_step';
  /** 'wasm' / 'js' for Descent, 'tfjs-wasm' or 'jax-js' for the peers. */
  backend: string;
  /** How the library was loaded: Descent's 'dist' or 'src (tsx)', the peers' npm package. */
  variant: string;
  threads: number;
  /** Median over runs of the child's performance.now() when its first step had finished. */
  ms: number;
  /** The same runs' median time from spawn() to the child's result line, seen by the parent. */
  spawn_ms: number;
  min_ms: number;
  runs: number;
  ratio_vs_js?: number;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHILD = join(ROOT, 'bench', 'startup-child.mjs');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/ (tsc -p tsconfig.build.json) when it is missing or older than some file in src/. */
export function ensureDist(): void {
  const entry = join(ROOT, 'dist', 'index.js');
  if (existsSync(entry) && statSync(entry).mtimeMs >= newestMtime(join(ROOT, 'src'))) return;
  console.error('startup: dist/ is missing or older than src/; building it (tsc -p tsconfig.build.json)');
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  // tsc still writes its output when it reports type errors; only a missing entry point is fatal
  if (tsc.status !== 0) console.error(`startup: tsc reported errors:\n${tsc.stdout}${tsc.stderr}`);
  if (!existsSync(entry)) throw new Error(`startup: building dist/ failed; ${entry} does not exist`);
}

interface ChildOutput {
  ms: number;
  loss: number;
  backend: string;
  threads: number;
}

/** Spawns one child; resolves with its JSON line and the spawn-to-line time in ms. */
function runChild(nodeArgs: string[], args: string[]): Promise<ChildOutput & { spawnMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let spawnMs = NaN;
    let out = '';
    let err = '';
    const child = spawn(process.execPath, [...nodeArgs, CHILD, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (Number.isNaN(spawnMs) && chunk.includes('\n')) spawnMs = Number(process.hrtime.bigint() - t0) / 1e6;
      out += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`startup: child '${args.join(' ')}' exited with code ${code}: ${err.trim() || out.trim()}`));
        return;
      }
      const parsed = JSON.parse(line) as ChildOutput;
      if (!Number.isFinite(parsed.loss)) reject(new Error(`startup: child '${args.join(' ')}' reported loss ${parsed.loss}`));
      else resolve({ ...parsed, spawnMs });
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round1 = (x: number) => Number(x.toFixed(1));

async function measure(variant: string, nodeArgs: string[], args: string[], runs: number): Promise<StartupResult> {
  await runChild(nodeArgs, args); // warms the file cache; not counted
  const outs = [];
  for (let i = 0; i < runs; i++) outs.push(await runChild(nodeArgs, args));
  const ms = outs.map((o) => o.ms);
  return {
    name: 'startup_to_first_step',
    backend: outs[0]!.backend,
    variant,
    threads: outs[0]!.threads,
    ms: round1(median(ms)),
    spawn_ms: round1(median(outs.map((o) => o.spawnMs))),
    min_ms: round1(Math.min(...ms)),
    runs,
  };
}

/**
 * Startup rows, in order: Descent dist (default backend), Descent dist (js), Descent src via tsx,
 * TF.js, jax-js. About 15 s (`quick`: 6 s). A peer that fails is left out with its reason on
 * stderr.
 */
export async function benchStartup(options: { quick?: boolean } = {}): Promise<StartupResult[]> {
  ensureDist();
  const runs = options.quick ? 3 : 7;
  const peerRuns = options.quick ? 1 : 3;
  const rows: StartupResult[] = [];
  rows.push(await measure('dist', [], ['descent-dist'], runs));
  const reference = await measure('dist', [], ['descent-dist', 'js'], peerRuns);
  rows.push(reference);
  rows.push(await measure('src (tsx)', ['--import', 'tsx'], ['descent-src'], peerRuns));
  for (const peer of ['tfjs-wasm', 'jax-js']) {
    try {
      rows.push(await measure('npm', [], [peer], peerRuns));
    } catch (err) {
      console.error(`benchStartup: ${peer} left out: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  for (const r of rows) r.ratio_vs_js = Number((reference.ms / r.ms).toFixed(2));
  return rows;
}
