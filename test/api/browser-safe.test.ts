/**
 * The package root and every namespace on it import nothing from node:*, directly or through what
 * they import, so the package bundles for browsers. Walks every static import and re-export, and
 * every dynamic import('...') and require('...') with a literal specifier, from src/index.ts
 * through the relative imports; type-only imports are skipped (they vanish when compiled), and so
 * are node: names inside strings and types (`typeof import('node:v8')`, a worker's source text).
 * A failure prints the chain of files from src/index.ts to the node: import.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '../..');

/** The runtime imports of one file: [specifier, how] for each. */
function runtimeImports(file: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  const literal = (n: ts.Node | undefined): string | undefined => (n && ts.isStringLiteralLike(n) ? n.text : undefined);
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n)) {
      const c = n.importClause;
      const typeOnly =
        c !== undefined &&
        (c.isTypeOnly ||
          (c.name === undefined &&
            c.namedBindings !== undefined &&
            ts.isNamedImports(c.namedBindings) &&
            c.namedBindings.elements.length > 0 &&
            c.namedBindings.elements.every((e) => e.isTypeOnly)));
      const s = literal(n.moduleSpecifier);
      if (s !== undefined && !typeOnly) out.push(s);
      return;
    }
    if (ts.isExportDeclaration(n)) {
      const s = literal(n.moduleSpecifier);
      const typeOnly =
        n.isTypeOnly ||
        (n.exportClause !== undefined &&
          ts.isNamedExports(n.exportClause) &&
          n.exportClause.elements.length > 0 &&
          n.exportClause.elements.every((e) => e.isTypeOnly));
      if (s !== undefined && !typeOnly) out.push(s);
      return;
    }
    if (ts.isCallExpression(n)) {
      const isImport = n.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(n.expression) && n.expression.text === 'require';
      const s = literal(n.arguments[0]);
      if ((isImport || isRequire) && s !== undefined) out.push(s);
    }
    if (ts.isTypeNode(n)) return; // typeof import('node:v8') and friends are types
    ts.forEachChild(n, visit);
  };
  visit(src);
  return out;
}

/** The source file a relative specifier names ('./x.js' -> ./x.ts, './dir/index.js' ...). */
function resolveRelative(from: string, spec: string): string {
  const base = resolve(dirname(from), spec);
  for (const c of [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base, `${base}.ts`, join(base, 'index.ts')]) {
    if (existsSync(c) && c.endsWith('ts')) return c;
  }
  throw new Error(`${relative(ROOT, from)}: cannot resolve the import '${spec}'`);
}

/** Every chain from `entry` that ends in a node: import (a breadth-first walk: each file once, by its shortest chain). */
function nodeChains(entry: string, allowed: ReadonlySet<string> = new Set()): string[][] {
  const start = resolve(ROOT, entry);
  const parent = new Map<string, string | null>([[start, null]]);
  const queue = [start];
  const chains: string[][] = [];
  const chainTo = (f: string): string[] => {
    const c: string[] = [];
    for (let x: string | null = f; x !== null; x = parent.get(x) ?? null) c.unshift(relative(ROOT, x));
    return c;
  };
  while (queue.length) {
    const f = queue.shift()!;
    if (allowed.has(relative(ROOT, f))) continue;
    for (const spec of runtimeImports(f)) {
      if (spec.startsWith('node:') || /^(fs|path|os|url|crypto|zlib|http|https|net|child_process|worker_threads|module|v8|buffer)(\/|$)/.test(spec)) {
        chains.push([...chainTo(f), spec]);
      } else if (spec.startsWith('.')) {
        const g = resolveRelative(f, spec);
        if (!parent.has(g)) {
          parent.set(g, f);
          queue.push(g);
        }
      }
    }
  }
  return chains;
}

describe('browser-safe entries', () => {
  it('nothing reachable from src/index.ts imports node:* ', () => {
    const chains = nodeChains('src/index.ts');
    assert.deepEqual(
      chains.map((c) => c.join(' -> ')),
      [],
    );
  });

  for (const ns of ['nn', 'optim', 'data', 'stats', 'io']) {
    it(`nothing reachable from src/${ns}/index.ts imports node:*`, () => {
      assert.deepEqual(
        nodeChains(`src/${ns}/index.ts`).map((c) => c.join(' -> ')),
        [],
      );
    });
  }

  it('the walk finds node:* imports where they are (descent/node reaches them)', () => {
    const chains = nodeChains('src/node/index.ts');
    assert.ok(
      chains.some((c) => c.at(-1) === 'node:fs'),
      'expected src/node/index.ts to reach node:fs',
    );
    // a type-only use of node:* does not count: the wasm runtime names node:v8 only in a type
    assert.ok(!nodeChains('src/backend/wasm/runtime.ts').some((c) => c.at(-2) === 'src/backend/wasm/runtime.ts'));
  });
});
