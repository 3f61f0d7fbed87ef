/**
 * `npm run lint`: the house rules a formatter cannot check.
 * - No function longer than 60 lines (body, counted from its first line to its last). A longer
 *   one needs a comment `// lint-allow-long-function: <reason>` on the line above it; their count
 *   is printed so that it stays a decision.
 * Exit code 1 with one line per violation (file:line: what), else 0.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const MAX_LINES = 60;
const ALLOW = /\/\/ lint-allow-long-function: \S/;
const root = join(import.meta.dirname, '..');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

const problems: string[] = [];
let allowed = 0;
for (const file of files(join(root, 'src'))) {
  const text = readFileSync(file, 'utf8');
  const src = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lines = text.split('\n');
  // A function inside one that is allowed to be long is part of that decision.
  const visit = (node: ts.Node, insideAllowed: boolean): void => {
    let allowedHere = insideAllowed;
    if (!insideAllowed && ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = src.getLineAndCharacterOfPosition(node.getStart(src)).line;
      const end = src.getLineAndCharacterOfPosition(node.getEnd()).line;
      const length = end - start + 1;
      if (length > MAX_LINES) {
        if (ALLOW.test(lines[start - 1] ?? '')) {
          allowed++;
          allowedHere = true;
        } else {
          const name = (node as ts.FunctionLikeDeclaration).name?.getText(src) ?? '(anonymous)';
          problems.push(
            `${relative(root, file)}:${start + 1}: function ${name} has ${length} lines (at most ${MAX_LINES}; split it, or say why above it with // lint-allow-long-function: <reason>)`,
          );
        }
      }
    }
    ts.forEachChild(node, (child) => visit(child, allowedHere));
  };
  visit(src, false);
}
for (const p of problems) console.error(p);
console.log(`lint: ${problems.length} problem(s); ${allowed} long function(s) allowed by a comment`);
process.exitCode = problems.length ? 1 : 0;
