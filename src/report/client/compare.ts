/**
 * Browser script: the comparison page. Each run gets one colour; per-step curves are drawn
 * against the optimizer step and per-epoch curves against the epoch, since runs with different
 * batch sizes take different numbers of steps per epoch.
 */
export const CLIENT_COMPARE = String.raw`
function renderCompare(data) {
  var root = document.getElementById('app');
  root.textContent = '';
  var runs = data.runs.map(function (run, i) { return { run: run, r: splitRecords(run.records), color: PALETTE[i % PALETTE.length] }; });
  root.appendChild(h('h1', { text: data.title }));
  var rows = runs.map(function (x) {
    var c = x.run.config || {}, s = x.run.summary || {}, last = x.r.epoch.length ? x.r.epoch[x.r.epoch.length - 1] : {};
    return h('tr', null, [
      h('td', null, [h('span', { cls: 'swatch', style: 'background:' + x.color }), x.run.name]),
      h('td', { text: c.model || '–' }), h('td', { text: (c.optimizer || '–') + (c.lr != null ? ' ' + c.lr : '') }),
      h('td', { text: c.batchSize != null ? String(c.batchSize) : '–' }), h('td', { text: c.schedule || '–' }),
      h('td', { text: String(s.epochs != null ? s.epochs : last.epoch != null ? last.epoch : '–') }),
      h('td', { text: pct(s.test_accuracy != null ? s.test_accuracy : last.val_accuracy) }),
      h('td', { text: fmt(s.test_loss != null ? s.test_loss : last.val_loss) }),
      h('td', { text: fmt(s.examples_per_second != null ? s.examples_per_second : last.examples_per_second, 5) }),
    ]);
  });
  var head = h('tr', null, ['run', 'model', 'optimizer, lr', 'batch', 'schedule', 'epochs', 'test accuracy', 'test loss', 'examples/s'].map(function (t) { return h('th', { text: t }); }));
  root.appendChild(h('div', { cls: 'panel' }, [h('table', { cls: 'runs', id: 'runs' }, [head].concat(rows))]));
  (data.runs || []).forEach(function (run) { (run.warnings || []).forEach(function (w) { root.appendChild(h('div', { cls: 'notice', text: run.name + ': ' + w })); }); });
  root.appendChild(h('h2', { text: 'Curves' }));
  var grid = root.appendChild(h('div', { cls: 'grid', id: 'compare-charts' }));
  var per = function (kind, fx, fy, extra) {
    return runs.map(function (x) {
      var s = { label: x.run.name, points: pts(x.r[kind], fx, fy), color: x.color, width: kind === 'step' ? 1.25 : 2 };
      for (var k in extra || {}) s[k] = extra[k];
      return s;
    });
  };
  drawChart(grid, { id: 'val-loss', title: 'Validation loss per epoch', xLabel: 'epoch', yLabel: 'loss', series: per('epoch', field('epoch'), field('val_loss')) });
  drawChart(grid, { id: 'val-accuracy', title: 'Validation accuracy per epoch', xLabel: 'epoch', yLabel: 'accuracy', series: per('epoch', field('epoch'), field('val_accuracy')) });
  drawChart(grid, { id: 'train-loss-epoch', title: 'Train loss per epoch', xLabel: 'epoch', yLabel: 'loss', series: per('epoch', field('epoch'), field('train_loss')) });
  drawChart(grid, { id: 'train-loss-step', title: 'Train loss per step', xLabel: 'step', yLabel: 'loss', series: per('step', field('step'), field('loss'), { alpha: 0.8 }) });
  drawChart(grid, { id: 'lr', title: 'Learning rate', xLabel: 'step', yLabel: 'learning rate', series: per('step', field('step'), field('lr')) });
  drawChart(grid, { id: 'throughput', title: 'Throughput per epoch', xLabel: 'epoch', yLabel: 'examples / s', series: per('epoch', field('epoch'), field('examples_per_second')) });
  if (runs.some(function (x) { return x.r.stats.length; })) {
    drawChart(grid, { id: 'noise', title: 'Gradient noise scale (EMA)', xLabel: 'step', yLabel: 'B_noise', yLog: true, series: per('stats', field('step'), field('noise_scale_ema')) });
  }
}
`;
