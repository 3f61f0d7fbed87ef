/**
 * The live charts' look: uPlot's structural rules (positioning of its canvas layers, axes, cursor
 * and legend: what its own stylesheet sets, restated so a page needs no CSS import) and the
 * layout of the status line and the grid of charts. Colours follow the report pages.
 */
export const PALETTE = ['rgba(47,111,223,0.35)', '#2f6fdf', '#e8743b', '#19a979', '#945ecf'];

export const CHART_CSS = `
.descent-charts { font: 13px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
.descent-status { margin: 0 0 8px; font-variant-numeric: tabular-nums; }
.descent-grid { display: grid; gap: 12px 16px; }
.descent-chart h4 { margin: 0 0 4px; font-size: 13px; font-weight: 600; }
.descent-chart .uplot, .descent-chart .uplot * { box-sizing: border-box; }
.descent-chart .uplot { width: min-content; line-height: 1.5; }
.descent-chart .u-wrap { position: relative; user-select: none; }
.descent-chart .u-over, .descent-chart .u-under { position: absolute; }
.descent-chart .u-under { overflow: hidden; }
.descent-chart .uplot canvas { display: block; position: relative; width: 100%; height: 100%; }
.descent-chart .u-axis { position: absolute; }
.descent-chart .u-legend { font-size: 12px; margin: auto; text-align: center; }
.descent-chart .u-inline { display: block; }
.descent-chart .u-inline * { display: inline-block; }
.descent-chart .u-inline tr { margin-right: 12px; }
.descent-chart .u-legend th { font-weight: 500; }
.descent-chart .u-legend .u-marker { width: 1em; height: 1em; margin-right: 4px; background-clip: padding-box !important; }
.descent-chart .u-inline:not(.u-live) .u-value { display: none; }
.descent-chart .u-series > * { padding: 2px; }
.descent-chart .u-series th { cursor: pointer; }
.descent-chart .u-legend .u-off > * { opacity: 0.3; }
.descent-chart .u-select { background: rgba(0, 0, 0, 0.07); position: absolute; pointer-events: none; }
.descent-chart .u-cursor-x, .descent-chart .u-cursor-y { position: absolute; left: 0; top: 0; pointer-events: none; }
.descent-chart .u-hz .u-cursor-x { height: 100%; border-right: 1px dashed #607d8b; }
.descent-chart .u-hz .u-cursor-y { width: 100%; border-bottom: 1px dashed #607d8b; }
.descent-chart .u-cursor-pt { position: absolute; top: 0; left: 0; border-radius: 50%; border: 0 solid; pointer-events: none; background-clip: padding-box !important; }
.descent-chart .u-axis.u-off, .descent-chart .u-select.u-off, .descent-chart .u-cursor-x.u-off, .descent-chart .u-cursor-y.u-off, .descent-chart .u-cursor-pt.u-off { display: none; }
`;
