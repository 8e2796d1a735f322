/**
 * The page `podnet lab ui` serves: plain HTML and one script (no framework, no build step). It shows the live
 * topology (SVG from /api/topology, refreshed on every `change` event from /events), each node's
 * desired-vs-observed differences, the verify matrix on demand, and a form that traces between two endpoints
 * and draws the result on the topology.
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
<h2>nodes: desired vs observed</h2><ul id="differences"></ul>
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
}
async function differences() {
  try {
    const d = await get('/api/differences');
    $('differences').innerHTML = d.map((n) => '<li class="' + (n.differences.length ? 'bad' : 'ok') + '">' + n.node + ': ' +
      (n.differences.length ? n.differences.join('; ') : 'as desired') + '</li>').join('');
  } catch (e) { $('differences').textContent = 'unavailable: ' + e.message; }
}
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
