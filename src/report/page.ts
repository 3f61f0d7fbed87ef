/**
 * One self-contained HTML page: uPlot's script and stylesheet, the page's own script and the
 * data are all inlined, so the file opens offline from disk with no server.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { CLIENT_CHARTS } from './client/charts.js';
import { CLIENT_COMPARE } from './client/compare.js';
import { CLIENT_EXPLAIN } from './client/explain.js';
import { CLIENT_LIVE } from './client/live.js';
import { CLIENT_MAIN } from './client/main.js';
import { CLIENT_RUN } from './client/run.js';
import { PAGE_CSS } from './style.js';

let uplot: { js: string; css: string } | undefined;

/** uPlot's minified browser build and stylesheet, read from the installed package once. */
function uplotAssets(): { js: string; css: string } {
  if (!uplot) {
    const require = createRequire(import.meta.url);
    const read = (f: string): string => {
      try {
        return readFileSync(require.resolve(`uplot/dist/${f}`), 'utf8');
      } catch (e) {
        throw new Error(`report: cannot read uplot/dist/${f} (is the uplot package installed?): ${(e as Error).message}`);
      }
    };
    uplot = { js: read('uPlot.iife.min.js'), css: read('uPlot.min.css') };
  }
  return uplot;
}

/** Text placed inside <script> must not contain "</script" (nor "<!--", which changes parsing). */
function scriptSafe(s: string): string {
  return s.replace(/<(\/script|!--)/gi, '\\u003c$1');
}

/** JSON inside a <script type="application/json"> element: escape every "<" so no tag can end it. */
function jsonSafe(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export type PageKind = 'run' | 'compare' | 'explain';

/** The page for `data` (its `kind` picks what the script draws). */
export function renderPage(kind: PageKind, title: string, data: unknown): string {
  const { js, css } = uplotAssets();
  const client = `(function () {\n'use strict';\n${CLIENT_CHARTS}\n${CLIENT_RUN}\n${CLIENT_COMPARE}\n${CLIENT_EXPLAIN}\n${CLIENT_LIVE}\n${CLIENT_MAIN}\n})();`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="descent">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
<style>${PAGE_CSS}</style>
</head>
<body data-kind="${kind}">
<main id="app"><p class="muted">Loading…</p></main>
<footer class="muted">Written by descent on ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC · charts by uPlot</footer>
<script id="descent-data" type="application/json">${jsonSafe({ kind, title, ...(data as object) })}</script>
<script>${scriptSafe(js)}</script>
<script>${scriptSafe(client)}</script>
</body>
</html>
`;
}
