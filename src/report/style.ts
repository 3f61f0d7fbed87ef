/** The report's stylesheet: colours as variables, switched by prefers-color-scheme. */
export const PAGE_CSS = String.raw`
:root {
  --bg: #f7f7f9; --card: #ffffff; --fg: #1d1f24; --muted: #5d6470; --grid: #e3e5ea; --border: #d9dce3;
  --accent: #2563eb; --bad: #c2410c; --good: #15803d; --cell: 37, 99, 235;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color-scheme: light;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #121317; --card: #1b1d23; --fg: #e6e8ec; --muted: #9aa2ae; --grid: #2c2f37; --border: #343844;
    --accent: #60a5fa; --bad: #fb923c; --good: #4ade80; --cell: 96, 165, 250;
    color-scheme: dark;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font-size: 14px; line-height: 1.45; }
main { max-width: 1400px; margin: 0 auto; padding: 20px 24px 8px; }
footer { max-width: 1400px; margin: 0 auto; padding: 8px 24px 24px; font-size: 12px; }
h1 { font-size: 22px; margin: 0 0 4px; font-weight: 650; }
h2 { font-size: 16px; margin: 28px 0 10px; font-weight: 650; }
h3 { font-size: 14px; margin: 0 0 6px; font-weight: 600; }
.muted { color: var(--muted); }
.badge { display: inline-block; font-size: 12px; padding: 1px 8px; border-radius: 10px; border: 1px solid var(--border); margin-left: 8px; vertical-align: middle; font-weight: 500; }
.badge.live { color: var(--good); border-color: var(--good); }
.badge.bad { color: var(--bad); border-color: var(--bad); }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0 6px; }
.card { background: var(--card); border: 1px solid var(--border); border-radius: 8px; padding: 8px 14px; min-width: 120px; }
.card .v { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .k { font-size: 12px; color: var(--muted); }
.config { margin-top: 8px; font-size: 13px; }
.config table { border-collapse: collapse; margin-top: 6px; }
.config td { padding: 1px 14px 1px 0; font-variant-numeric: tabular-nums; }
.config td:first-child { color: var(--muted); }
.notice { background: var(--card); border: 1px solid var(--bad); border-radius: 8px; padding: 8px 12px; margin: 10px 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 560px), 1fr)); gap: 14px; }
.chart { background: var(--card); border: 1px solid var(--border); border-radius: 8px; padding: 10px 10px 4px; min-width: 0; }
.chart .empty { height: 120px; display: flex; align-items: center; justify-content: center; color: var(--muted); text-align: center; padding: 0 12px; }
.chart .note { font-size: 12px; color: var(--muted); margin: 2px 0 6px; }
.uplot { font-family: inherit; }
.u-legend { font-size: 12px; color: var(--fg); }
.u-legend .u-marker { border-radius: 2px; }
.u-select { background: rgba(127, 127, 127, 0.15); }
table.confusion { border-collapse: collapse; font-size: 12px; font-variant-numeric: tabular-nums; }
table.confusion th, table.confusion td { padding: 3px 6px; text-align: right; border: 1px solid var(--border); }
table.confusion th { font-weight: 500; color: var(--muted); white-space: nowrap; }
table.confusion td.diag { font-weight: 700; }
.panel { background: var(--card); border: 1px solid var(--border); border-radius: 8px; padding: 12px; overflow-x: auto; }
.mis { display: grid; grid-template-columns: repeat(auto-fill, minmax(96px, 1fr)); gap: 10px; }
.mis figure { margin: 0; text-align: center; font-size: 11px; }
.mis canvas { width: 84px; height: 84px; image-rendering: pixelated; border: 1px solid var(--border); border-radius: 4px; background: #000; }
.mis .t { color: var(--good); }
.mis .p { color: var(--bad); }
table.runs { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
table.runs th, table.runs td { padding: 3px 10px; border-bottom: 1px solid var(--border); text-align: left; }
table.runs th { color: var(--muted); font-weight: 500; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
.explain-text { max-width: 880px; }
`;
