/**
 * Browser script: live updates for the dashboard. An EventSource follows the server's stream of
 * new metrics records (event 'records', each id the byte offset reached in metrics.jsonl, so a
 * reconnect resumes where it stopped) and of changed run files (event 'meta'). Redrawing is
 * batched: records are appended at once, the charts redrawn at most every 200 ms.
 */
export const CLIENT_LIVE = String.raw`
function startLive(run, live) {
  var pending = null;
  var schedule = function () {
    if (pending) return;
    // at most every 200 ms, and never more than a third of the time on redrawing a long run
    pending = setTimeout(function () { pending = null; renderRun(run, true); }, Math.max(200, 2 * STATE.lastRenderMs));
  };
  var url = live.events + '?offset=' + encodeURIComponent(live.offset) + '&meta=' + encodeURIComponent(live.metaSig);
  var es = new EventSource(url);
  var status = function (text) { var s = document.getElementById('live-status'); if (s) s.textContent = ' · ' + text; };
  es.addEventListener('records', function (ev) {
    var recs = JSON.parse(ev.data);
    for (var i = 0; i < recs.length; i++) run.records.push(recs[i]);
    STATE.received += recs.length;
    schedule();
  });
  es.addEventListener('meta', function (ev) {
    var m = JSON.parse(ev.data);
    run.config = m.config; run.summary = m.summary; run.predictions = m.predictions;
    schedule();
  });
  es.addEventListener('reset', function () { es.close(); location.reload(); });
  es.addEventListener('end', function () { es.close(); status('the dashboard stopped: this is the final state'); renderRun(run, false); });
  es.onopen = function () { status('connected: updating live'); };
  es.onerror = function () { status('connection lost: retrying'); };
  STATE.eventSource = es;
}
`;
