/**
 * Browser script: the page of one run. renderRun(run) draws the header, the training curves, the
 * gradient statistics and the test predictions from the run's (compact) metrics records; it is
 * called again whenever live records arrive, and only updates what changed.
 */
export const CLIENT_RUN = String.raw`
function splitRecords(records) {
  var r = { step: [], epoch: [], stats: [], diverged: null };
  records.forEach(function (x) {
    if (x.type === 'step') r.step.push(x);
    else if (x.type === 'epoch') r.epoch.push(x);
    else if (x.type === 'stats') r.stats.push(x);
    else if (x.type === 'diverged') r.diverged = x;
  });
  return r;
}

function pts(list, fx, fy) {
  var out = [];
  list.forEach(function (x) { var a = fx(x), b = fy(x); if (num(a) !== null && num(b) !== null) out.push([a, b]); });
  return out;
}
function field(name) { return function (x) { return x[name]; }; }
function stepAcc(x) { return num(x.correct) !== null && x.examples > 0 ? x.correct / x.examples : null; }

function renderHeader(root, run, r, live) {
  var head = document.getElementById('run-header') || root.appendChild(h('header', { id: 'run-header' }));
  var wasOpen = !!(head.querySelector('details') || {}).open; // live redraws keep the settings open
  head.textContent = '';
  var cfg = run.config || {}, sum = run.summary || null;
  var last = r.epoch.length ? r.epoch[r.epoch.length - 1] : null;
  var diverged = r.diverged || (sum && sum.diverged);
  var status = diverged ? ['diverged', 'bad'] : sum ? ['finished', ''] : live ? ['live', 'live'] : ['in progress', ''];
  head.appendChild(h('h1', null, ['Run ' + run.name, h('span', { cls: 'badge ' + status[1], id: 'run-status', text: status[0] })]));
  var bits = [];
  if (cfg.model) bits.push('model ' + cfg.model + (cfg.activation ? ' (' + cfg.activation + ')' : ''));
  if (cfg.data) bits.push('data ' + cfg.data);
  if (cfg.optimizer) bits.push(cfg.optimizer + (cfg.lr != null ? ' lr ' + cfg.lr : ''));
  if (cfg.batchSize) bits.push('batch ' + cfg.batchSize + (cfg.accumulate > 1 ? ' × ' + cfg.accumulate : ''));
  if (cfg.epochs) bits.push(cfg.epochs + ' epochs');
  if (cfg.schedule) bits.push('schedule ' + cfg.schedule);
  head.appendChild(h('div', { cls: 'muted', text: bits.length ? bits.join(' · ') : run.dir || '' }));
  var cards = [];
  var card = function (k, v) { cards.push(h('div', { cls: 'card' }, [h('div', { cls: 'v', text: v }), h('div', { cls: 'k', text: k })])); };
  if (sum) {
    card('test accuracy', pct(sum.test_accuracy));
    card('test loss', fmt(sum.test_loss));
    card('train loss', fmt(sum.train_loss));
    card('examples / s', fmt(sum.examples_per_second, 5));
    card('epochs', String(sum.epochs) + (cfg.epochs ? ' / ' + cfg.epochs : ''));
    card('time', fmt(sum.seconds) + ' s');
  } else if (last) {
    card('validation accuracy', pct(last.val_accuracy));
    card('validation loss', fmt(last.val_loss));
    card('train loss', fmt(last.train_loss));
    card('examples / s', fmt(last.examples_per_second, 5));
    card('epochs', String(last.epoch) + (cfg.epochs ? ' / ' + cfg.epochs : ''));
  }
  var lastStep = r.step.length ? r.step[r.step.length - 1] : null;
  if (lastStep || last) card('steps', String(Math.max(lastStep ? lastStep.step : 0, last ? last.step : 0)));
  if (cards.length) head.appendChild(h('div', { cls: 'cards' }, cards));
  else head.appendChild(h('p', { cls: 'muted', text: 'No metrics yet.' }));
  var keys = Object.keys(cfg);
  if (keys.length) {
    var rows = keys.map(function (k) { return h('tr', null, [h('td', { text: k }), h('td', { text: typeof cfg[k] === 'object' ? JSON.stringify(cfg[k]) : String(cfg[k]) })]); });
    var details = head.appendChild(h('details', { cls: 'config' }, [h('summary', { text: 'All settings (config.json)' }), h('table', null, rows)]));
    details.open = wasOpen;
  }
  if (diverged) head.appendChild(h('div', { cls: 'notice', text: (r.diverged && r.diverged.message) || 'Training diverged.' }));
  (run.warnings || []).forEach(function (w) { head.appendChild(h('div', { cls: 'notice', text: w })); });
}

function trainingCharts(grid, r) {
  var c0 = PALETTE[0], c1 = PALETTE[1];
  drawChart(grid, { id: 'loss', title: 'Loss', xLabel: 'step', yLabel: 'loss', empty: 'no loss logged yet', series: [
    { label: 'train loss (step)', points: pts(r.step, field('step'), field('loss')), color: c0, alpha: 0.55, width: 1 },
    { label: 'train loss (epoch)', points: pts(r.epoch, field('step'), field('train_loss')), color: c0, width: 2.5 },
    { label: 'validation loss (epoch)', points: pts(r.epoch, field('step'), field('val_loss')), color: c1, width: 2.5 },
  ] });
  drawChart(grid, { id: 'accuracy', title: 'Accuracy', xLabel: 'step', yLabel: 'accuracy', empty: 'no accuracy logged yet', series: [
    { label: 'train accuracy (step)', points: pts(r.step, field('step'), stepAcc), color: c0, alpha: 0.55, width: 1 },
    { label: 'train accuracy (epoch)', points: pts(r.epoch, field('step'), field('train_accuracy')), color: c0, width: 2.5 },
    { label: 'validation accuracy (epoch)', points: pts(r.epoch, field('step'), field('val_accuracy')), color: c1, width: 2.5 },
  ] });
  drawChart(grid, { id: 'lr', title: 'Learning rate', xLabel: 'step', yLabel: 'learning rate', empty: 'no learning rate logged yet', series: r.step.length
    ? [{ label: 'learning rate (step)', points: pts(r.step, field('step'), field('lr')), color: PALETTE[4], width: 2 }]
    : [{ label: 'learning rate (epoch end)', points: pts(r.epoch, field('step'), field('lr')), color: PALETTE[4], width: 2 }] });
  drawChart(grid, { id: 'throughput', title: 'Throughput', note: 'Step lines: the epoch\'s running average so far.', xLabel: 'step', yLabel: 'examples / s', empty: 'no throughput logged yet', series: [
    { label: 'examples/s (step)', points: pts(r.step, field('step'), field('examples_per_second')), color: PALETTE[2], alpha: 0.6, width: 1 },
    { label: 'examples/s (epoch)', points: pts(r.epoch, field('step'), field('examples_per_second')), color: PALETTE[2], width: 2.5 },
  ] });
  drawChart(grid, { id: 'gradnorm', title: 'Gradient norm', note: 'Global L2 norm of the averaged gradient used by each logged update.', xLabel: 'step', yLabel: '‖g‖', empty: 'no gradient norm logged yet', series: [
    { label: 'gradient norm', points: pts(r.step, field('step'), field('gradNorm')), color: PALETTE[3], width: 1.5 },
  ] });
}

/** Colour of epoch i of n: blue (early) to red (late). */
function epochColor(i, n) {
  var hue = n <= 1 ? 220 : 220 - (210 * i) / (n - 1);
  var c = document.createElement('canvas').getContext('2d');
  c.fillStyle = 'hsl(' + hue.toFixed(0) + ', 70%, 52%)';
  return c.fillStyle;
}

function statsCharts(grid, r) {
  var s = r.stats;
  var nonPos = s.filter(function (x) { return typeof x.noise_scale === 'number' && !(x.noise_scale > 0); }).length;
  drawChart(grid, { id: 'noise', title: 'Gradient noise scale', yLog: true, xLabel: 'step', yLabel: 'B_noise (examples)',
    note: 'B_noise = tr Σ / ‖G‖²: the batch size at which the gradient\'s noise equals its signal.' + (nonPos ? ' ' + nonPos + ' non-positive estimates not drawn.' : ''),
    empty: 'gradient statistics were not logged in this run', series: [
      { label: 'B_noise', showPoints: false, points: pts(s, field('step'), field('noise_scale')), color: PALETTE[4], alpha: 0.5, width: 1 },
      { label: 'B_noise (EMA)', showPoints: false, points: pts(s, field('step'), field('noise_scale_ema')), color: PALETTE[4], width: 2.5 },
    ] });
  drawChart(grid, { id: 'signal', title: 'Gradient signal and noise', yLog: true, xLabel: 'step', yLabel: 'squared norm',
    note: '‖G‖² (unbiased) is the squared norm of the true gradient; tr Σ the total variance of one example\'s gradient.',
    empty: 'gradient statistics were not logged in this run', series: [
      { label: '‖G‖² (unbiased)', showPoints: false, points: pts(s, field('step'), field('grad_norm_sq_unbiased')), color: PALETTE[0], width: 1.5 },
      { label: 'tr Σ', showPoints: false, points: pts(s, field('step'), field('trace_cov')), color: PALETTE[1], width: 1.5 },
    ] });
  var q = function (i) { return function (x) { return x.norm_quantiles ? x.norm_quantiles[i] : null; }; };
  var c = PALETTE[2];
  drawChart(grid, { id: 'norms', title: 'Per-example gradient norms', yLog: true, xLabel: 'step', yLabel: '‖g_i‖',
    note: 'Median of each logged batch, with bands from the 25th to 75th and 10th to 90th percentiles.',
    empty: 'per-example gradient norms were not logged in this run', series: [
      { label: 'p90', showPoints: false, points: pts(s, field('step'), q(5)), color: c, alpha: 0.35, width: 1 },
      { label: 'p75', showPoints: false, points: pts(s, field('step'), q(4)), color: c, alpha: 0.6, width: 1 },
      { label: 'median', showPoints: false, points: pts(s, field('step'), q(3)), color: c, width: 2 },
      { label: 'p25', showPoints: false, points: pts(s, field('step'), q(2)), color: c, alpha: 0.6, width: 1 },
      { label: 'p10', showPoints: false, points: pts(s, field('step'), q(1)), color: c, alpha: 0.35, width: 1 },
    ], bands: [{ hi: 0, lo: 4, color: withAlpha(c, 0.12) }, { hi: 1, lo: 3, color: withAlpha(c, 0.22) }] });
  // Per-epoch histograms: the per-line histograms share fixed log bins, so they add exactly.
  var byEpoch = new Map();
  s.forEach(function (x) {
    if (!x.norm_histogram) return;
    var acc = byEpoch.get(x.epoch) || { bins: {}, n: 0 };
    for (var k in x.norm_histogram) { if (k !== 'zero') acc.bins[k] = (acc.bins[k] || 0) + x.norm_histogram[k]; acc.n += x.norm_histogram[k]; }
    byEpoch.set(x.epoch, acc);
  });
  var epochs = Array.from(byEpoch.keys()).sort(function (a, b) { return a - b; });
  if (epochs.length > 10) { // at most 10 curves: evenly spread, first and last included
    var pick = [];
    for (var i = 0; i < 10; i++) pick.push(epochs[Math.round((i * (epochs.length - 1)) / 9)]);
    epochs = pick.filter(function (e, j) { return pick.indexOf(e) === j; });
  }
  var lo = Infinity, hi = -Infinity;
  epochs.forEach(function (e) { Object.keys(byEpoch.get(e).bins).forEach(function (k) { lo = Math.min(lo, +k); hi = Math.max(hi, +k); }); });
  var bpd = window.__descentBinsPerDecade || 10;
  drawChart(grid, { id: 'normhist', title: 'Per-example gradient norm distribution per epoch', xLog: true, xLabel: '‖g_i‖', yLabel: 'fraction of examples',
    note: 'Histogram on log-spaced bins (' + bpd + ' per decade) of every logged example\'s gradient norm, one curve per epoch.',
    empty: 'per-example gradient norms were not logged in this run', series: epochs.map(function (e, i) {
      var acc = byEpoch.get(e), p = [];
      for (var k = lo; k <= hi + 1; k++) p.push([Math.pow(10, k / bpd), (acc.bins[k] || 0) / acc.n]);
      return { label: 'epoch ' + e, points: p, color: epochColor(i, epochs.length), width: 1.75, stepped: true, showPoints: false };
    }) });
}

function renderConfusion(panel, p) {
  var k = p.classes.length, total = 0, rowSums = [], colSums = new Array(k).fill(0);
  p.confusion.forEach(function (row, i) {
    var s = 0;
    row.forEach(function (v, j) { s += v; colSums[j] += v; });
    rowSums[i] = s; total += s;
  });
  var cell = cssVar('--cell');
  var head = h('tr', null, [h('th', { text: 'true ↓ predicted →' })].concat(p.classes.map(function (c) { return h('th', { text: c }); })).concat([h('th', { text: 'total' })]));
  var rows = p.confusion.map(function (row, i) {
    return h('tr', null, [h('th', { text: p.classes[i] })].concat(row.map(function (v, j) {
      var f = rowSums[i] ? v / rowSums[i] : 0;
      var td = h('td', { cls: i === j ? 'diag' : '', text: String(v), title: p.classes[i] + ' predicted as ' + p.classes[j] + ': ' + v });
      if (v) td.style.background = 'rgba(' + cell + ',' + (0.08 + 0.82 * f).toFixed(3) + ')';
      if (f > 0.5) td.style.color = '#fff';
      return td;
    })).concat([h('td', { text: String(rowSums[i]) })]));
  });
  rows.push(h('tr', null, [h('th', { text: 'total' })].concat(colSums.map(function (v) { return h('td', { text: String(v) }); })).concat([h('td', { id: 'confusion-total', text: String(total) })])));
  panel.appendChild(h('table', { cls: 'confusion', id: 'confusion' }, [head].concat(rows)));
  STATE.confusionTotal = total;
  return total;
}

function decodeImage(item, shape) {
  var bin = atob(item.pixels), C = shape[0], H = shape[1], W = shape[2];
  var canvas = h('canvas', { width: String(W), height: String(H) });
  var ctx = canvas.getContext('2d'), img = ctx.createImageData(W, H), hw = H * W;
  for (var i = 0; i < hw; i++) {
    var r = bin.charCodeAt(i), g = C >= 3 ? bin.charCodeAt(hw + i) : r, b = C >= 3 ? bin.charCodeAt(2 * hw + i) : r;
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

var shownPredictions;
function renderPredictions(root, p) {
  if (shownPredictions === p) return;
  shownPredictions = p;
  var sec = document.getElementById('predictions') || root.appendChild(h('div', { id: 'predictions' }));
  sec.textContent = '';
  sec.appendChild(h('h2', { text: 'Test predictions' }));
  if (!p) {
    sec.appendChild(h('p', { cls: 'muted', text: 'No test-predictions.json in this run folder (it is written when training ends).' }));
    STATE.confusionTotal = null; STATE.misclassifiedShown = null;
    return;
  }
  sec.appendChild(h('p', { cls: 'muted', text: p.correct + ' of ' + p.count + ' test examples classified correctly (' + pct(p.count ? p.correct / p.count : NaN) + '). Rows: true class; columns: predicted class; shading: fraction of the row.' }));
  var panel = sec.appendChild(h('div', { cls: 'panel' }));
  renderConfusion(panel, p);
  STATE.misclassifiedShown = 0;
  if (p.images && p.images.items.length) {
    sec.appendChild(h('h2', { text: 'Misclassified test images (' + p.images.items.length + ' of ' + p.misclassified + ')' }));
    var grid = sec.appendChild(h('div', { cls: 'panel mis', id: 'misclassified' }));
    p.images.items.forEach(function (it) {
      grid.appendChild(h('figure', { title: 'test example ' + it.index }, [decodeImage(it, p.images.shape), h('figcaption', null, [
        h('div', { cls: 't', text: 'true: ' + (p.classes[it.label] || it.label) }), h('div', { cls: 'p', text: 'pred: ' + (p.classes[it.prediction] || it.prediction) }), h('div', { cls: 'muted', text: '#' + it.index }),
      ])]));
    });
    STATE.misclassifiedShown = p.images.items.length;
  }
}

function renderRun(run, live) {
  var t0 = performance.now();
  var root = document.getElementById('app');
  if (!document.getElementById('run-header')) {
    root.textContent = '';
    root.appendChild(h('header', { id: 'run-header' }));
    root.appendChild(h('h2', { text: 'Training' }));
    root.appendChild(h('div', { cls: 'grid', id: 'training-charts' }));
    root.appendChild(h('h2', { text: 'Gradient statistics' }));
    root.appendChild(h('div', { cls: 'grid', id: 'stats-charts' }));
    root.appendChild(h('div', { id: 'predictions' }));
  }
  var r = splitRecords(run.records);
  renderHeader(root, run, r, live);
  trainingCharts(document.getElementById('training-charts'), r);
  statsCharts(document.getElementById('stats-charts'), r);
  renderPredictions(root, run.predictions || null);
  STATE.renders++;
  STATE.lastRenderMs = performance.now() - t0;
}
`;
