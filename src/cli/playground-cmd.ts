/**
 * `descent playground`: the mini-batch playground (playground/ at the package root), a static web
 * app, served on 127.0.0.1 with the headers that make the page cross-origin isolated, or written
 * to a folder with --build for any static host.
 *
 * Where the app comes from: an installed package (and a checkout after `npm ci` / `npm run build`)
 * has it built in dist/playground; the CLI running from its TypeScript sources (the tests, tsx)
 * bundles playground/ with esbuild on the fly, so it always serves the current sources.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { writeFileAtomic } from '../io/atomic.js';
import { defineCommand, type ExitCode } from './command.js';
import { UsageError } from './errors.js';
import { stdout } from './io.js';
import { resolveOptions, type OptionTable } from './options.js';

/** The package root: two folders above this module (src/cli or dist/cli). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FROM_SOURCES = fileURLToPath(import.meta.url).endsWith('.ts');
/** The app's sources, and where `npm run build` puts the built app. */
export const PLAYGROUND_SOURCES = join(ROOT, 'playground');
export const PLAYGROUND_DIST = join(ROOT, 'dist', 'playground');
/** index.html carries this marker, so --build knows a folder it may replace. */
const MARKER = '<meta name="generator" content="descent-playground" />';
const STATIC_FILES = ['index.html', 'style.css'];

/** The built app: file name -> bytes. */
export type PlaygroundFiles = Map<string, Uint8Array>;

/** Bundle playground/ for browsers: main.js and worker.js share one chunk of Descent ('descent' -> the sources). */
export async function bundlePlayground(): Promise<PlaygroundFiles> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error(
      `the playground is not built (${PLAYGROUND_DIST} is missing) and esbuild, which builds it, is not installed: run \`npm run build\` in ${ROOT}`,
    );
  }
  const out = join(ROOT, '.playground-out');
  const r = await esbuild.build({
    entryPoints: { main: join(PLAYGROUND_SOURCES, 'main.ts'), worker: join(PLAYGROUND_SOURCES, 'worker.ts') },
    alias: { descent: join(ROOT, 'src', 'index.ts') },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    outdir: out,
    chunkNames: 'descent-[hash]',
    write: false,
    logLevel: 'silent',
  });
  const files: PlaygroundFiles = new Map();
  for (const f of r.outputFiles) files.set(f.path.slice(out.length + 1), f.contents);
  for (const name of STATIC_FILES) files.set(name, readFileSync(join(PLAYGROUND_SOURCES, name)));
  // The page's module imports the shared chunk: fetch it alongside instead of after.
  const preload = [...files.keys()].filter((n) => n.startsWith('descent-')).map((n) => `<link rel="modulepreload" href="./${n}" />`);
  const html = new TextDecoder().decode(files.get('index.html')).replace('<link rel="stylesheet"', `${preload.join('')}<link rel="stylesheet"`);
  files.set('index.html', new TextEncoder().encode(html));
  return files;
}

/** Read a built app folder. */
function readFolder(dir: string): PlaygroundFiles {
  return new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))] as [string, Uint8Array]));
}

/** The app to serve: dist/playground when the CLI runs compiled and it is there, else a fresh bundle of the sources. */
export async function playgroundFiles(): Promise<{ files: PlaygroundFiles; from: string }> {
  if (!FROM_SOURCES && existsSync(join(PLAYGROUND_DIST, 'index.html'))) return { files: readFolder(PLAYGROUND_DIST), from: PLAYGROUND_DIST };
  const t0 = performance.now();
  const files = await bundlePlayground();
  return { files, from: `${PLAYGROUND_SOURCES} (bundled in ${((performance.now() - t0) / 1000).toFixed(1)} s)` };
}

/** Refuse a --build target that exists and is not an earlier playground build (a file, or a folder of something else). */
export function checkBuildTarget(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new UsageError(`--build: ${dir} is a file; give a folder to write the playground into`);
  if (readdirSync(dir).length === 0) return;
  const index = join(dir, 'index.html');
  if (!existsSync(index) || !readFileSync(index, 'utf8').includes(MARKER))
    throw new UsageError(`--build: ${dir} is a folder that holds something else than a playground build; give a new or empty folder`);
}

/**
 * Write the app into `dir`: every file into a temporary folder beside it (each file fsynced), then
 * one rename. A folder cannot be renamed over a non-empty one, so an earlier build is first renamed
 * aside, and put back if the new one cannot take its place; `dir` never holds a mix of two builds.
 */
export function writePlaygroundFolder(dir: string, files: PlaygroundFiles): void {
  const target = resolve(dir);
  checkBuildTarget(target);
  mkdirSync(dirname(target), { recursive: true });
  const stamp = `${process.pid}-${Date.now()}`;
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${stamp}`);
  const old = join(dirname(target), `.${basename(target)}.old-${stamp}`);
  try {
    mkdirSync(tmp);
    for (const [name, bytes] of files) writeFileAtomic(join(tmp, name), bytes);
    const replacing = existsSync(target);
    if (replacing) renameSync(target, old);
    try {
      renameSync(tmp, target);
    } catch (e) {
      if (replacing) renameSync(old, target);
      throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  png: 'image/png',
  svg: 'image/svg+xml',
};

/** The headers that make the page cross-origin isolated (Web Workers share memory: Descent's threads). */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

/** Serve the app's files on host:port (0: any free port); resolves once it listens. Static files only. */
export async function servePlayground(files: PlaygroundFiles, port: number, host = '127.0.0.1'): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
    const body = files.get(path);
    if (!body || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(body ? 405 : 404, { 'content-type': 'text/plain; charset=utf-8', ...ISOLATION_HEADERS }).end(body ? 'method not allowed\n' : 'not found\n');
      return;
    }
    const type = TYPES[path.split('.').pop() ?? ''] ?? 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-cache', ...ISOLATION_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  return { url: `http://${host}:${(server.address() as AddressInfo).port}/`, server };
}

export const PLAYGROUND_OPTIONS = {
  port: {
    flags: '--port <n>',
    help: 'port on 127.0.0.1 (0: any free port; the default falls back to a free port when 8080 is taken)',
    default: 8080,
    parse: (flag: string, v: unknown): number => {
      const s = String(v);
      if (!/^\d+$/.test(s) || Number(s) > 65535) throw new UsageError(`${flag} must be a port number from 0 to 65535, got ${JSON.stringify(v)}`);
      return Number(s);
    },
  },
  build: {
    flags: '--build <dir>',
    help: 'write the app as static files into this folder (new, empty, or an earlier build) instead of serving it',
    parse: (flag: string, v: unknown): string | undefined => {
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`${flag} needs a folder, got ${JSON.stringify(v)}`);
      return v;
    },
  },
} satisfies OptionTable;

/** Listen on `port`; the default port, when taken, falls back to any free one. */
async function listen(files: PlaygroundFiles, port: number, explicit: boolean): Promise<{ url: string; server: Server; note: string }> {
  try {
    return { ...(await servePlayground(files, port)), note: '' };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    if (explicit) throw new UsageError(`--port: port ${port} is in use on 127.0.0.1 (try another number, or --port 0 for any free port)`);
    return { ...(await servePlayground(files, 0)), note: ` (port ${port} is in use)` };
  }
}

/** Serve until SIGINT or SIGTERM; resolves to the exit code. */
async function serve(port: number, explicit: boolean): Promise<number> {
  const { files, from } = await playgroundFiles();
  const { url, server, note } = await listen(files, port, explicit);
  stdout(`Descent playground: ${url}${note}\nserving ${from}, cross-origin isolated; Ctrl-C stops it.\n`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close(() => done());
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

async function build(dir: string): Promise<number> {
  checkBuildTarget(resolve(dir));
  const { files } = await playgroundFiles();
  writePlaygroundFolder(dir, files);
  const bytes = [...files.values()].reduce((s, b) => s + b.length, 0);
  stdout(
    `Wrote the playground to ${dir}: ${files.size} files, ${(bytes / 1024).toFixed(0)} KiB; serve it from any static host (with COOP/COEP headers for threads).\n`,
  );
  return 0;
}

export function registerPlayground(program: Command, exit?: ExitCode): void {
  defineCommand(
    program,
    {
      name: 'playground',
      description: 'open the mini-batch playground in a browser: per-example gradients, their average, noise against batch size, backprop step by step',
      options: PLAYGROUND_OPTIONS,
      help: '\nExamples:\n  $ descent playground                 # http://127.0.0.1:8080/\n  $ descent playground --port 0        # any free port\n  $ descent playground --build site    # static files for any host',
      run: (_args, opts, cmd) => {
        const o = resolveOptions(PLAYGROUND_OPTIONS, opts, cmd) as { port: number; build?: string };
        if (o.build !== undefined) return build(o.build);
        return serve(o.port, cmd.getOptionValueSource('port') === 'cli');
      },
    },
    exit,
  );
}
