/**
 * The page `podnet lab ui` serves: plain HTML and one script (no framework, no build step). It shows the live
 * topology (SVG from /api/topology, refreshed on every `change` event from /events), each node's
 * desired-vs-observed differences, the verify matrix on demand, the policy matrix when the lab has policies
 * (the evaluator's expectation, probed on demand), and a form that traces between two endpoints and draws the
 * result on the topology.
 */
export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>podnet lab</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 1em 2em; color: #222; }
 h1 { font-size: 1.3em; } h2 { font-size: 1.05em; margin-top: 1.4em; }
 pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: 12px; }
 #topology svg { max-width: 100%; height: auto; border: 1px solid #ddd; }
 form > * { margin-right: .5em; } .bad { color: #b00; } .ok { color: #070; }
 #health { float: right; font-size: .9em; }
 table.policy { border-collapse: collapse; font: 12px monospace; margin: .4em 0 1em; }
 table.policy th, table.policy td { border: 1px solid #ddd; padding: 2px 6px; text-align: center; }
 td.allow { background: #e8f6e8; } td.deny { background: #fbe4e4; } td.mismatch { outline: 2px solid #b00; font-weight: bold; }
</style></head>
<body>
<span id="health">health: …</span>
<h1 id="title">podnet lab</h1>
<form id="trace-form">
  <label>from <select id="from" name="from"></select></label>
  <label>to <input id="to" name="to" placeholder="b, default/web:http, node-1:30080, outside" size="34"></label>
  <label>proto <select id="proto" name="proto"><option value="">auto</option><option>tcp</option><option>udp</option><option>icmp</option></select></label>
  <button id="trace-go" type="submit">trace</button> <span id="trace-status"></span>
</form>
<div id="topology" data-version="0">loading…</div>
<h2>trace</h2><pre id="trace-text">(none yet)</pre>
<h2>nodes: desired vs observed</h2><button id="differences-go">check again</button><ul id="differences"></ul>
<section id="policy" hidden>
<h2>policy matrix</h2><p id="policy-list"></p>
<button id="policy-probe">probe every cell (verify --policies)</button> <span id="policy-status"></span>
<div id="policy-matrix"></div>
</section>
<h2>verify matrix</h2><button id="verify-go">run verify</button><pre id="verify-text">(not run)</pre>
<script>
const $ = (id) => document.getElementById(id);
let version = 0, traced = null;
async function get(path, opts) {
  const r = await fetch(path, opts);
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}
async function topology() {
  try {
    const t = await get('/api/topology');
    $('title').textContent = 'podnet lab ' + t.lab + ': ' + t.nodes.length + ' node(s), ' + t.pods.length + ' pod(s)';
    if (!traced) $('topology').innerHTML = t.svg;
    $('topology').dataset.version = String(++version);
    $('topology').dataset.pods = t.pods.map((p) => p.name).join(',');
    const sel = $('from'), keep = sel.value;
    sel.innerHTML = [...t.pods.map((p) => p.name), ...t.nodes.map((n) => n.name)]
      .map((n) => '<option>' + n + '</option>').join('');
    if (keep) sel.value = keep;
  } catch (e) { $('topology').textContent = 'topology unavailable: ' + e.message; }
  differences();
  policies(false);
}
async function differences() {
  try {
    const d = await get('/api/differences');
    $('differences').innerHTML = d.map((n) => '<li class="' + (n.differences.length ? 'bad' : 'ok') + '">' + n.node + ': ' +
      (n.differences.length ? n.differences.join('; ') : 'as desired') + '</li>').join('');
  } catch (e) { $('differences').textContent = 'unavailable: ' + e.message; }
}
const esc = (t) => String(t).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
// One table per protocol/port: rows are sources, columns destinations; '.' connects, 'X' is blocked; once
// probed the symbol is what the probe saw, and '!' marks a cell where it differs from the evaluator.
function policyTable(m, pp) {
  const cells = m.cells.filter((c) => c.protocol + '/' + c.port === pp);
  const cols = [...new Set(cells.map((c) => c.to))];
  const head = '<tr><th>' + esc(pp) + '</th>' + cols.map((c) => '<th>' + esc(c) + '</th>').join('') + '</tr>';
  const rows = m.pods.map((from) => '<tr><th>' + esc(from) + '</th>' + cols.map((to) => {
    const c = cells.find((x) => x.from === from && x.to === to);
    if (!c) return '<td></td>';
    const seen = c.observed === undefined ? c.expected : c.observed;
    const bad = c.observed !== undefined && c.observed !== c.expected;
    return '<td class="cell ' + (seen ? 'allow' : 'deny') + (bad ? ' mismatch' : '') + '" data-from="' + esc(from) +
      '" data-to="' + esc(to) + '" data-port="' + esc(pp) + '" data-expected="' + c.expected + '"' +
      (c.observed === undefined ? '' : ' data-observed="' + c.observed + '"') + ' title="' + esc(c.reason) + '">' +
      (seen ? '.' : 'X') + (bad ? '!' : '') + '</td>';
  }).join('') + '</tr>').join('');
  return '<table class="policy">' + head + rows + '</table>';
}
async function policies(probe) {
  try {
    if (probe) $('policy-status').textContent = 'probing…';
    const m = await get('/api/policies' + (probe ? '?probe=1' : ''));
    $('policy').hidden = m.policies.length === 0;
    if (!m.policies.length) return;
    $('policy-list').textContent = m.policies.length + ' polic' + (m.policies.length === 1 ? 'y' : 'ies') + ': ' + m.policies.join(', ');
    $('policy-status').textContent = m.mismatches === undefined
      ? 'expected, from the evaluator (not probed)'
      : 'observed: ' + (m.cells.length - m.mismatches) + ' of ' + m.cells.length + ' cells match the evaluator, ' + m.mismatches + ' mismatch(es), ' + m.ms + ' ms';
    $('policy-status').dataset.probed = String(m.mismatches !== undefined);
    const pps = [...new Set(m.cells.map((c) => c.protocol + '/' + c.port))];
    $('policy-matrix').innerHTML = pps.map((pp) => policyTable(m, pp)).join('');
  } catch (e) { $('policy-status').textContent = 'unavailable: ' + e.message; }
}
$('policy-probe').addEventListener('click', () => policies(true));
$('differences-go').addEventListener('click', () => differences());
async function health() {
  try { const h = await get('/health'); $('health').textContent = 'health: ' + h.status + (h.lastError ? ' (' + h.lastError.message + ')' : ''); }
  catch (e) { $('health').textContent = 'health: server unreachable'; }
}
$('trace-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('trace-status').textContent = 'tracing…';
  try {
    const r = await get('/api/trace', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: $('from').value, to: $('to').value, proto: $('proto').value }) });
    traced = r;
    $('topology').innerHTML = r.svg;
    $('trace-text').textContent = r.text;
    $('trace-status').textContent = r.report.probe.verdict;
    $('trace-status').dataset.hops = String(r.report.request.concat(r.report.reply).filter((h) => h.seen).length);
  } catch (e) { $('trace-status').textContent = 'failed: ' + e.message; }
  health();
});
$('verify-go').addEventListener('click', async () => {
  $('verify-text').textContent = 'running…';
  try { const v = await get('/api/verify'); $('verify-text').textContent = v.text; }
  catch (e) { $('verify-text').textContent = 'failed: ' + e.message; }
});
const events = new EventSource('/events');
events.addEventListener('change', () => { traced = null; topology(); });
topology(); health(); setInterval(health, 5000);
</script>
</body></html>
`;
