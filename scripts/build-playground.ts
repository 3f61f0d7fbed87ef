/**
 * Build the playground (playground/) into dist/playground, atomically: `npm run build` and the
 * `prepare` script run this after tsc, so an installed package serves it with `descent playground`.
 *
 *   node --import tsx scripts/build-playground.ts            dist/playground
 *   node --import tsx scripts/build-playground.ts site       another folder
 */
import { bundlePlayground, PLAYGROUND_DIST, writePlaygroundFolder } from '../src/cli/playground-cmd.js';

const dir = process.argv[2] ?? PLAYGROUND_DIST;
const t0 = performance.now();
const files = await bundlePlayground();
writePlaygroundFolder(dir, files);
const bytes = [...files.values()].reduce((s, b) => s + b.length, 0);
process.stdout.write(`playground: ${dir} (${files.size} files, ${(bytes / 1024).toFixed(0)} KiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
