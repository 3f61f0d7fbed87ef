/**
 * The source tree has no import cycle: every relative import of src/**\/*.ts (type-only ones
 * included, since they tie the modules' meaning together) is walked, and a cycle fails naming its
 * files in order.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const src = resolve(import.meta.dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative imports and re-exports of a file, as absolute .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]/g)) {
    out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  }
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+['"](\.[^'"]+)['"]/g)) out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  return out;
}

/** The first cycle found by an iterative depth-first walk (white/grey/black), or null. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'grey' | 'black'>();
  for (const start of graph.keys()) {
    if (state.has(start)) continue;
    const stack: { node: string; next: number }[] = [{ node: start, next: 0 }];
    state.set(start, 'grey');
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const edges = graph.get(top.node) ?? [];
      if (top.next >= edges.length) {
        state.set(top.node, 'black');
        stack.pop();
        continue;
      }
      const to = edges[top.next++]!;
      if (state.get(to) === 'grey') return [...stack.slice(stack.findIndex((f) => f.node === to)).map((f) => f.node), to];
      if (!state.has(to) && graph.has(to)) {
        state.set(to, 'grey');
        stack.push({ node: to, next: 0 });
      }
    }
  }
  return null;
}

describe('source structure', () => {
  it('findCycle finds a cycle and passes a tree', () => {
    assert.deepEqual(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
        ]),
      ),
      ['a', 'b', 'c', 'a'],
    );
    assert.equal(
      findCycle(
        new Map([
          ['a', ['b', 'c']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
      null,
    );
  });

  it('no import cycle in src/', () => {
    const graph = new Map(sourceFiles(src).map((f) => [f, importsOf(f)] as const));
    assert.ok(graph.size > 50, `expected the source tree, found ${graph.size} files`);
    const cycle = findCycle(graph);
    assert.equal(cycle, null, `import cycle: ${cycle?.map((f) => relative(src, f)).join(' -> ')}`);
  });
});
