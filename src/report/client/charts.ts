/**
 * Browser script (plain JavaScript, inlined into the page): DOM helpers, colours from the page's
 * CSS variables, and drawChart(), which turns series of (x, y) points into one uPlot chart.
 * uPlot wants every series on one shared, sorted x array, so the points are aligned onto the
 * union of their x values with null where a series has no point (gaps are spanned).
 * Counts of drawn points per series are published in window.__descent.charts for tests.
 */
export const CLIENT_CHARTS = String.raw`
var PALETTE = ['#2f6fdf', '#e8743b', '#19a979', '#d64550', '#945ecf', '#c9a400', '#13a4b4', '#d45ba0', '#6c8c1e', '#7d8799'];
var STATE = window.__descent = { ready: false, charts: {}, errors: [], renders: 0, confusionTotal: null, misclassifiedShown: null, received: 0, lastRenderMs: 0 };
var CHARTS = {};

function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

function h(tag, attrs, children) {
  var e = document.createElement(tag);
  if (attrs) for (var k in attrs) {
    if (k === 'text') e.textContent = attrs[k];
    else if (k === 'cls') e.className = attrs[k];
    else if (k === 'style') e.style.cssText = attrs[k];
    else e.setAttribute(k, attrs[k]);
  }
  (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
  return e;
}

function fmt(v, digits) {
  if (v == null || typeof v !== 'number' || !isFinite(v)) return '–';
  var a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential((digits || 3) - 1);
  return String(Number(v.toPrecision(digits || 4)));
}

function pct(v) { return typeof v === 'number' && isFinite(v) ? (v * 100).toFixed(2) + '%' : '–'; }

function withAlpha(hex, a) {
  var n = parseInt(hex.slice(1), 16);
  return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
}

function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }

/** Put every series on the sorted union of x values; count the points each one keeps. */
function align(spec) {
  var okX = function (x) { return x != null && isFinite(x) && (!spec.xLog || x > 0); };
  var okY = function (y) { return y != null && isFinite(y) && (!spec.yLog || y > 0); };
  var seen = new Map();
  spec.series.forEach(function (s) { s.points.forEach(function (p) { if (okX(p[0]) && okY(p[1])) seen.set(p[0], true); }); });
  var xs = Array.from(seen.keys()).sort(function (a, b) { return a - b; });
  var index = new Map();
  xs.forEach(function (x, i) { index.set(x, i); });
  var counts = {};
  var ys = spec.series.map(function (s) {
    var col = new Array(xs.length).fill(null);
    s.points.forEach(function (p) { if (okX(p[0]) && okY(p[1])) col[index.get(p[0])] = p[1]; });
    counts[s.label] = col.reduce(function (n, v) { return n + (v === null ? 0 : 1); }, 0);
    return col;
  });
  return { data: [xs].concat(ys), counts: counts };
}

/** The card for chart 'id' inside 'parent' (created once). */
function chartCard(parent, id, title) {
  var card = document.getElementById('chart-' + id);
  if (!card) {
    card = h('section', { cls: 'chart', id: 'chart-' + id }, [h('h3', { text: title }), h('div', { cls: 'note' }), h('div', { cls: 'body' })]);
    parent.appendChild(card);
  }
  return card;
}

/**
 * spec: { id, title, note, xLabel, yLabel, xLog, yLog, empty, series: [{ label, points: [[x, y]],
 * color, width, dash, pointsOnly, showPoints, stepped, alpha }], bands: [{ hi, lo, color }] (series indices) }
 */
function drawChart(parent, spec) {
  var card = chartCard(parent, spec.id, spec.title);
  card.querySelector('.note').textContent = spec.note || '';
  var body = card.querySelector('.body');
  var a = align(spec);
  var total = 0;
  for (var k in a.counts) total += a.counts[k];
  STATE.charts[spec.id] = a.counts;
  card.setAttribute('data-points', String(total));
  var old = CHARTS[spec.id];
  if (total === 0) {
    if (old) { old.u.destroy(); delete CHARTS[spec.id]; }
    body.textContent = '';
    body.appendChild(h('div', { cls: 'empty', text: spec.empty || 'no data yet' }));
    return;
  }
  var dots = function (s) { return !!(s.showPoints || (s.showPoints !== false && s.points.length <= 30)); };
  var key = JSON.stringify([spec.series.map(function (s) { return [s.label, s.color, dots(s)]; }), spec.xLog, spec.yLog, spec.xLabel, spec.yLabel]);
  if (old && old.key === key) { old.u.setData(a.data); return; }
  if (old) old.u.destroy();
  body.textContent = '';
  var grid = cssVar('--grid'), muted = cssVar('--muted');
  var axis = function (label) {
    return { label: label, stroke: muted, labelFont: '12px system-ui, sans-serif', font: '11px system-ui, sans-serif', grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  };
  var xAxis = axis(spec.xLabel || '');
  // steps, epochs and batch sizes are whole numbers: no ticks between them
  if (!spec.xLog) xAxis.incrs = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 2.5e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];
  var yAxis = axis(spec.yLabel || '');
  yAxis.size = 64;
  var stepped = window.uPlot.paths && window.uPlot.paths.stepped ? window.uPlot.paths.stepped({ align: 1 }) : undefined;
  var opts = {
    width: Math.max(240, body.clientWidth || card.clientWidth - 20),
    height: spec.height || 240,
    scales: { x: { time: false, distr: spec.xLog ? 3 : 1 }, y: { distr: spec.yLog ? 3 : 1 } },
    axes: [xAxis, yAxis],
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
    series: [{ label: spec.xLabel || 'x', value: function (u, v) { return fmt(v, 6); } }].concat(spec.series.map(function (s) {
      var color = s.alpha != null ? withAlpha(s.color, s.alpha) : s.color;
      var out = { label: s.label, stroke: color, width: s.width || 1.5, spanGaps: true, value: function (u, v) { return fmt(v); } };
      if (s.dash) out.dash = s.dash;
      if (s.pointsOnly) { out.paths = function () { return null; }; out.points = { show: true, size: 8, fill: s.color, stroke: s.color }; }
      else if (dots(s)) out.points = { show: true, size: 5, fill: color };
      else out.points = { show: false };
      if (s.stepped && stepped) out.paths = stepped;
      if (s.hidden) out.show = false;
      return out;
    })),
    bands: (spec.bands || []).map(function (b) { return { series: [b.hi + 1, b.lo + 1], fill: b.color }; }),
  };
  var u = new window.uPlot(opts, a.data, body);
  CHARTS[spec.id] = { u: u, key: key, body: body };
}

function resizeCharts() {
  for (var id in CHARTS) {
    var c = CHARTS[id];
    var w = Math.max(240, c.body.clientWidth);
    if (Math.abs(c.u.width - w) > 2) c.u.setSize({ width: w, height: c.u.height });
  }
}

function destroyCharts() {
  for (var id in CHARTS) CHARTS[id].u.destroy();
  CHARTS = {};
}

var resizeTimer = null;
window.addEventListener('resize', function () {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(resizeCharts, 100);
});
`;
