/**
 * `descent playground`: a bad flag is one line and exit code 2; --build writes the static app
 * atomically (and replaces only an earlier build); serving gives the page, its modules and the
 * isolation headers on 127.0.0.1, prints the URL, and stops on SIGINT.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { after, describe, it } from 'node:test';
import { assertRejected, cliInProcess } from '../cli/helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'descent-playground-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('descent playground: flags', () => {
  for (const [args, pattern] of [
    [['--port', 'abc'], /--port must be a port number from 0 to 65535, got "abc"/],
    [['--port', '70000'], /--port must be a port number/],
    [['--port', '-1'], /--port/],
    [['--build', ''], /--build needs a folder/],
    [['--nope'], /unknown option '--nope'/],
  ] as const) {
    it(`refuses ${JSON.stringify(args)} with one line and exit code 2`, async () => {
      assertRejected(await cliInProcess('playground', ...args), pattern);
    });
  }

  it('--build refuses a file and a folder that holds something else, and leaves them alone', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'mine');
    assertRejected(await cliInProcess('playground', '--build', file), /--build: .*a-file is a file/);
    assert.equal(readFileSync(file, 'utf8'), 'mine');
    const other = join(tmp, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'keep me');
    assertRejected(await cliInProcess('playground', '--build', other), /--build: .*other is a folder that holds something else/);
    assert.deepEqual(readdirSync(other), ['notes.txt']);
  });
});

describe('descent playground --build', () => {
  it('writes the static app (under 2 MB) through a temporary folder, and replaces an earlier build', async () => {
    const site = join(tmp, 'nested', 'site');
    const r = await cliInProcess('playground', '--build', site);
    assert.equal(r.code, 0, r.err);
    const files = readdirSync(site).sort();
    assert.match(r.out, new RegExp(`Wrote the playground to .*site: ${files.length} files`));
    assert.deepEqual(
      files.filter((f) => !f.startsWith('descent-')),
      ['index.html', 'main.js', 'style.css', 'worker.js'],
    );
    // Descent's code in chunks shared by the page and the worker: the root, and the WebGPU backend
    // (loaded only by setBackendAsync('webgpu')) with what it shares with the root
    assert.ok(files.filter((f) => /^descent-\w+\.js$/.test(f)).length <= 3, `Descent's chunks: ${files}`);
    const bytes = files.reduce((s, f) => s + statSync(join(site, f)).size, 0);
    assert.ok(bytes < 2 * 1024 * 1024, `${bytes} bytes`);
    const code = files.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(site, f), 'utf8'));
    assert.ok(!code.some((c) => /\bfrom\s*["']node:|import\(\s*["']node:/.test(c)), 'no node:* import in the app');
    writeFileSync(join(site, 'stale.js'), 'old');
    const again = await cliInProcess('playground', '--build', site);
    assert.equal(again.code, 0, again.err);
    assert.ok(!existsSync(join(site, 'stale.js')), 'the old build is replaced as a whole');
    assert.deepEqual(readdirSync(join(tmp, 'nested')), ['site'], 'no temporary folder left beside it');
  });
});

/** Start `descent playground` from the sources; resolves with the URL it prints. */
function startServer(args: string[]): Promise<{ url: string; child: ReturnType<typeof spawn>; line: string }> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'test/cli/run-cli.ts'), 'playground', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((ok, fail) => {
    let out = '',
      err = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b;
      const m = /Descent playground: (http:\/\/127\.0\.0\.1:\d+\/).*/.exec(out);
      if (m) ok({ url: m[1]!, child, line: m[0] });
    });
    child.stderr!.on('data', (b: Buffer) => (err += b));
    child.on('exit', (code) => fail(new Error(`exited with ${code}: ${err}`)));
  });
}

describe('descent playground: serving', () => {
  it('prints its URL on 127.0.0.1, serves the app cross-origin isolated, static files only, and stops on SIGINT', async () => {
    const { url, child } = await startServer(['--port', '0']);
    try {
      const page = await fetch(url);
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
      assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
      assert.match(page.headers.get('content-type')!, /text\/html/);
      assert.match(await page.text(), /<script type="module" src=".\/main.js"><\/script>/);
      for (const f of ['main.js', 'worker.js', 'style.css']) assert.equal((await fetch(url + f)).status, 200, f);
      assert.equal((await fetch(url + 'main.js')).headers.get('content-type'), 'text/javascript; charset=utf-8');
      assert.equal((await fetch(url + '../package.json')).status, 404);
      assert.equal((await fetch(url + 'main.js', { method: 'POST', body: 'x' })).status, 405);
    } finally {
      child.kill('SIGINT');
    }
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 0);
  });

  it('a port in use: given with --port, one line and exit code 2; the default 8080, another free port', async () => {
    // 8080 taken here (or already taken by something else on this machine).
    const blocker = createServer();
    await new Promise<void>((ok) => blocker.once('error', () => ok()).listen(8080, '127.0.0.1', ok));
    try {
      assertRejected(await cliInProcess('playground', '--port', '8080'), /--port: port 8080 is in use/);
      const { url, child, line } = await startServer([]);
      child.kill('SIGINT');
      assert.notEqual(new URL(url).port, '8080');
      assert.match(line, /\(port 8080 is in use\)/);
    } finally {
      blocker.close();
    }
  });
});
