/**
 * report.html for a run folder, and a page comparing several runs. Both are single files with
 * everything inlined (see page.ts): they open offline, straight from disk.
 */
import { join, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { renderPage } from './page.js';
import { BINS_PER_DECADE, readRun } from './run-data.js';
import type { RunData } from './run-data.js';

export interface ReportOptions {
  /** Where to write the page (default runDir/report.html). */
  out?: string;
  /** The page title (default "Descent run <folder name>"). */
  title?: string;
}

/** The HTML of a run's page; with `live`, the page follows the dashboard's event stream. */
export function runPageHtml(run: RunData, o: { title?: string; live?: { events: string } } = {}): string {
  const title = o.title ?? `Descent run ${run.name}`;
  const live = o.live ? { events: o.live.events, offset: run.offset, metaSig: run.metaSig } : undefined;
  const { offset: _o, metaSig: _m, ...shown } = run;
  return renderPage('run', title, { run: shown, live, binsPerDecade: BINS_PER_DECADE });
}

/** Write runDir/report.html (or options.out) from the run folder's files; returns the path written. */
export function writeReport(runDir: string, options: ReportOptions = {}): string {
  const run = readRun(runDir);
  const out = options.out ?? join(runDir, 'report.html');
  writeFileAtomic(out, runPageHtml(run, { title: options.title }));
  return out;
}

/** Names that tell the runs apart: the folder names, with parent folders added where they clash. */
export function runNames(dirs: string[]): string[] {
  const parts = dirs.map((d) => resolve(d).split(sep).filter(Boolean));
  const names = parts.map((p) => p[p.length - 1] ?? '/');
  for (let depth = 2; depth <= Math.max(...parts.map((p) => p.length)); depth++) {
    // a clash: the same name for different folders (the same folder twice is numbered below)
    const full = parts.map((p) => p.join('/'));
    const clash = names.map((n, i) => names.some((m, j) => m === n && full[j] !== full[i]));
    if (!clash.some(Boolean)) break;
    parts.forEach((p, i) => {
      if (clash[i]) names[i] = p.slice(-depth).join('/');
    });
  }
  return names.map((n, i) => (names.indexOf(n) === i ? n : `${n} (${i + 1})`));
}

export interface CompareOptions {
  /** Where to write the page (default compare.html in the current folder). */
  out?: string;
  title?: string;
}

/** Write one page overlaying the curves of several runs; returns the path written. */
export function writeComparePage(runDirs: string[], options: CompareOptions = {}): string {
  if (runDirs.length === 0) throw new Error('writeComparePage: expected at least one run folder, got none');
  const names = runNames(runDirs);
  const runs = runDirs.map((d, i) => {
    const { offset: _o, metaSig: _m, ...run } = readRun(d, names[i]);
    return run;
  });
  const out = options.out ?? 'compare.html';
  const title = options.title ?? `Descent: ${names.join(' vs ')}`;
  writeFileAtomic(out, renderPage('compare', title, { runs, binsPerDecade: BINS_PER_DECADE }));
  return out;
}
