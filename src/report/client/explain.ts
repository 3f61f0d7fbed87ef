/**
 * Browser script: the page of `descent explain`'s batch-size sweep.
 *
 * The variance of a mini-batch gradient of B independent examples is E‖g_B − G‖² = tr Σ / B,
 * a line of slope −1 on log-log axes. McCandlish et al. (2018, "An Empirical Model of
 * Large-Batch Training") model the steps S and examples E = B·S needed to reach a fixed loss as
 * S = S_min (1 + B_noise / B) and E = E_min (1 + B / B_noise), so that
 * (S/S_min − 1)(E/E_min − 1) = 1, with E_min = S_min · B_noise. Without S_min the curve is drawn
 * in units of S_min and E_min; the critical batch B = B_noise sits at (2, 2).
 */
export const CLIENT_EXPLAIN = String.raw`
function logGrid(lo, hi, n) {
  var out = [], a = Math.log(lo), b = Math.log(hi);
  for (var i = 0; i < n; i++) out.push(Math.exp(a + ((b - a) * i) / (n - 1)));
  return out;
}

function renderExplain(data) {
  var e = data.explain, root = document.getElementById('app');
  root.textContent = '';
  root.appendChild(h('h1', { text: data.title }));
  root.appendChild(h('div', { cls: 'muted', text: [e.model ? 'model ' + e.model : '', e.dataset ? 'data ' + e.dataset : ''].filter(Boolean).join(' · ') }));
  root.appendChild(h('div', { cls: 'cards' }, [
    ['critical batch B_noise', fmt(e.noise_scale, 4)], ['tr Σ', fmt(e.trace_cov)], ['‖G‖²', fmt(e.grad_norm_sq)], ['batch sizes measured', String(e.sweep.length)],
  ].map(function (kv) { return h('div', { cls: 'card' }, [h('div', { cls: 'v', text: kv[1] }), h('div', { cls: 'k', text: kv[0] })]); })));
  var bn = e.noise_scale;
  root.appendChild(h('p', { cls: 'explain-text', id: 'explain-text', text:
    'A mini-batch of B examples estimates the gradient G with variance tr Σ / B, so quadrupling the batch halves the noise. ' +
    'Following McCandlish et al. (2018), reaching a given loss with batch size B takes S = S_min (1 + B_noise/B) steps and E = E_min (1 + B/B_noise) examples, ' +
    'so (S/S_min − 1)(E/E_min − 1) = 1: batches much smaller than the critical batch B_noise = tr Σ / ‖G‖² ≈ ' + fmt(bn, 3) +
    ' use the fewest examples but need many steps, batches much larger barely reduce the steps while multiplying the examples, and at B = B_noise both cost twice their minimum.' }));
  var grid = root.appendChild(h('div', { cls: 'grid' }));
  var bs = e.sweep.map(function (s) { return s.batch_size; }).filter(function (b) { return b > 0; });
  var bmin = bs.length ? Math.min.apply(null, bs) : 1, bmax = bs.length ? Math.max.apply(null, bs) : 1;
  var line = logGrid(bmin / 2, bmax * 2, 48).map(function (b) { return [b, e.trace_cov / b]; });
  drawChart(grid, { id: 'variance', title: 'Gradient variance against batch size', xLog: true, yLog: true, xLabel: 'batch size B', yLabel: 'E‖g_B − G‖²',
    note: 'Measured variance of the mini-batch gradient at each batch size, and the line tr Σ / B.', empty: 'no sweep measured', series: [
      { label: 'measured', points: e.sweep.map(function (s) { return [s.batch_size, s.measured_variance]; }), color: PALETTE[1], pointsOnly: true },
      { label: 'predicted', points: e.sweep.map(function (s) { return [s.batch_size, s.predicted_variance]; }), color: PALETTE[2], dash: [4, 4], width: 1.5 },
      { label: 'tr Σ / B', points: line, color: PALETTE[0], width: 2 },
    ] });
  var curve = [], marks = [];
  if (bn > 0 && isFinite(bn)) {
    // B over the sweep and at least B_noise/30 .. 30 B_noise: E/E_min = 1 + B/B_noise on x, S/S_min = 1 + B_noise/B on y
    var lo = Math.min(bn / 30, bmin / 2), hi = Math.max(bn * 30, bmax * 2);
    curve = logGrid(lo, hi, 121).map(function (b) { return [1 + b / bn, 1 + bn / b]; });
    marks = bs.map(function (b) { return [1 + b / bn, 1 + bn / b]; });
  }
  drawChart(grid, { id: 'tradeoff', title: 'Steps against examples to reach a target loss', xLog: true, yLog: true, xLabel: 'examples E / E_min', yLabel: 'steps S / S_min',
    note: '(S/S_min − 1)(E/E_min − 1) = 1; points: the sweep\'s batch sizes; the critical batch B_noise sits at (2, 2).',
    empty: 'the noise scale is not a positive number, so the relation is undefined', series: [
      { label: 'McCandlish relation', points: curve, color: PALETTE[0], width: 2 },
      { label: 'sweep batch sizes', points: marks, color: PALETTE[1], pointsOnly: true },
      { label: 'B = B_noise', points: curve.length ? [[2, 2]] : [], color: PALETTE[3], pointsOnly: true },
    ] });
  var head = h('tr', null, ['batch size', 'measured variance', 'predicted variance', 'measured / predicted'].map(function (t) { return h('th', { text: t }); }));
  var rows = e.sweep.map(function (s) {
    return h('tr', null, [h('td', { text: String(s.batch_size) }), h('td', { text: fmt(s.measured_variance) }), h('td', { text: fmt(s.predicted_variance) }), h('td', { text: fmt(s.measured_variance / s.predicted_variance, 3) })]);
  });
  root.appendChild(h('h2', { text: 'Sweep' }));
  root.appendChild(h('div', { cls: 'panel' }, [h('table', { cls: 'runs', id: 'sweep' }, [head].concat(rows))]));
}
`;
