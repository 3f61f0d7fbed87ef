/**
 * The public API is a decision: every name the package's entries export (values and types) is
 * listed in public-api.snapshot.json, and this test fails when a name appears or disappears. After
 * a deliberate change, regenerate the list and commit it with the change:
 *
 *   UPDATE_API_SNAPSHOT=1 node --import tsx --test test/api/public-api.test.ts
 *
 * Entries: 'descent' (src/index.ts, with the namespaces nn, optim, data, stats, io on it), the
 * subpaths 'descent/nn' ... 'descent/io' (the same namespaces) and 'descent/node' (Node-only).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import * as d from '../../src/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SNAPSHOT = resolve(import.meta.dirname, 'public-api.snapshot.json');
const NAMESPACES = ['nn', 'optim', 'data', 'stats', 'io'] as const;

/** package.json subpath -> source file of that entry. */
const ENTRIES: Record<string, string> = {
  descent: 'src/index.ts',
  ...Object.fromEntries(NAMESPACES.map((ns) => [`descent/${ns}`, `src/${ns}/index.ts`])),
  'descent/node': 'src/node/index.ts',
};

interface EntryNames {
  values: string[];
  types: string[];
}

/** The names each entry exports, split into values (exist at run time) and types only, sorted. */
function exportedNames(): Record<string, EntryNames> {
  const files = Object.values(ENTRIES).map((f) => resolve(ROOT, f));
  const config = ts.getParsedCommandLineOfConfigFile(resolve(ROOT, 'tsconfig.build.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  const program = ts.createProgram(files, { ...(config?.options ?? {}), noEmit: true });
  const checker = program.getTypeChecker();
  const out: Record<string, EntryNames> = {};
  for (const [entry, file] of Object.entries(ENTRIES)) {
    const sf = program.getSourceFile(resolve(ROOT, file));
    const mod = sf && checker.getSymbolAtLocation(sf);
    if (!mod) throw new Error(`${file}: not a module`);
    const values: string[] = [],
      types: string[] = [];
    for (const s of checker.getExportsOfModule(mod)) {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      (target.flags & ts.SymbolFlags.Value ? values : types).push(s.name);
    }
    out[entry] = { values: values.sort(), types: types.sort() };
  }
  return out;
}

describe('public API', () => {
  it('the names of every entry match public-api.snapshot.json (UPDATE_API_SNAPSHOT=1 to regenerate)', () => {
    const names = exportedNames();
    if (process.env.UPDATE_API_SNAPSHOT === '1') writeFileSync(SNAPSHOT, JSON.stringify(names, null, 2) + '\n');
    const expected = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Record<string, EntryNames>;
    for (const entry of Object.keys({ ...expected, ...names })) {
      const now = names[entry] ?? { values: [], types: [] };
      const then = expected[entry] ?? { values: [], types: [] };
      for (const kind of ['values', 'types'] as const) {
        const added = now[kind].filter((n) => !then[kind].includes(n));
        const removed = then[kind].filter((n) => !now[kind].includes(n));
        assert.deepEqual({ added, removed }, { added: [], removed: [] }, `${entry} ${kind} changed; if deliberate, regenerate with UPDATE_API_SNAPSHOT=1`);
      }
    }
  });

  it('the root module object holds exactly the snapshot values, with the namespaces on it', () => {
    const expected = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Record<string, EntryNames>;
    assert.deepEqual(Object.keys(d).sort(), expected['descent']!.values);
    for (const ns of NAMESPACES) assert.deepEqual(Object.keys(d[ns]).sort(), expected[`descent/${ns}`]!.values, `d.${ns}`);
  });

  it('exposes d.nn.Linear and d.optim.SGD, the same classes as the flat names', () => {
    assert.equal(d.nn.Linear, d.Linear);
    assert.equal(d.optim.SGD, d.SGD);
    assert.equal(d.data.DataLoader, d.DataLoader);
    assert.equal(d.stats.gradientStatsHook, d.gradientStatsHook);
    assert.equal(d.io.encodeSafetensors, d.encodeSafetensors);
    assert.equal(typeof d.nn.init.kaimingUniform, 'function');
  });

  it('keeps internals off the root and file-reading functions in descent/node', () => {
    const root = new Set(Object.keys(d));
    for (const internal of [
      'noteIndexBound',
      'OPS',
      'OP_NAMES',
      'topoSort',
      'backwardPass',
      'sumToShape',
      'reluBackward',
      'im2col',
      'unaryOps',
      'runPageHtml',
    ]) {
      assert.ok(!root.has(internal), `${internal} is internal`);
    }
    for (const nodeOnly of [
      'loadFashionMnist',
      'readIdx',
      'saveSafetensors',
      'loadSafetensors',
      'saveCheckpoint',
      'startDashboard',
      'writeReport',
      'MetricsLog',
    ]) {
      assert.ok(!root.has(nodeOnly), `${nodeOnly} belongs to descent/node`);
    }
  });

  it('package.json exports every entry, pointing into dist/', () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; default: string }> };
    assert.deepEqual(
      Object.keys(pkg.exports).sort(),
      Object.keys(ENTRIES)
        .map((e) => e.replace(/^descent/, '.'))
        .sort(),
    );
    for (const [entry, file] of Object.entries(ENTRIES)) {
      const js = file.replace(/^src\//, './dist/').replace(/\.ts$/, '.js');
      assert.deepEqual(pkg.exports[entry.replace(/^descent/, '.')], { types: js.replace(/\.js$/, '.d.ts'), default: js });
    }
  });
});
