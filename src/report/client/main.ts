/** Browser script: read the embedded data, draw the page for its kind, redraw on a theme change. */
export const CLIENT_MAIN = String.raw`
var DATA = JSON.parse(document.getElementById('descent-data').textContent);
window.__descentBinsPerDecade = DATA.binsPerDecade;
function draw() {
  if (DATA.kind === 'run') renderRun(DATA.run, !!DATA.live);
  else if (DATA.kind === 'compare') renderCompare(DATA);
  else if (DATA.kind === 'explain') renderExplain(DATA);
  else throw new Error('unknown page kind ' + DATA.kind);
}
try {
  draw();
  if (DATA.kind === 'run' && DATA.live) {
    document.querySelector('footer').appendChild(h('span', { id: 'live-status', text: ' · connecting…' }));
    startLive(DATA.run, DATA.live);
  }
  // Chart colours come from CSS variables: rebuild the charts when the colour scheme changes.
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', function () { destroyCharts(); shownPredictions = undefined; draw(); });
  STATE.ready = true;
} catch (e) {
  STATE.errors.push(String(e && e.stack || e));
  var app = document.getElementById('app');
  app.appendChild(h('div', { cls: 'notice', text: 'This page failed to draw: ' + e }));
  throw e;
}
`;
