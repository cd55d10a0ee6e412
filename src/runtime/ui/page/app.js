// tapnet ui: the page. Plain ES module, no build step. Everything it shows
// comes from the server (tapnet's own codecs and trace points); it sends only
// view requests (scope, filter, pause, select, tables) — nothing that changes the lab.
// All text from packets is inserted with textContent, never as HTML.

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const e = tag === 'svg' || ['line', 'rect', 'circle', 'text', 'g', 'polyline'].includes(tag) ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'onclick') e.addEventListener('click', v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) e.append(c);
  return e;
};

const LIST_MAX = 2000; // rows kept in the page
const token = new URLSearchParams(location.search).get('token');
const state = { topology: undefined, scope: 'all', filter: '', paused: false, selected: undefined, node: undefined, rates: {}, history: new Map() };
let ws;

function connect() {
  ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  ws.onopen = () => { $('status').textContent = 'live'; sendView(); };
  ws.onclose = () => { $('status').textContent = 'disconnected'; setTimeout(connect, 1000); };
  ws.onmessage = (event) => {
    const m = JSON.parse(event.data);
    const handler = handlers[m.type];
    if (handler) handler(m);
  };
}
const send = (m) => ws && ws.readyState === 1 && ws.send(JSON.stringify(m));
// Packets already on their way under the old view are ignored until the server confirms the new one.
const sendView = () => { state.awaitingView = true; send({ type: 'view', scope: state.scope, filter: state.filter }); };

const handlers = {
  topology(m) { state.topology = m.topology; drawTopology(); fillScopes(); },
  packets(m) { addPackets(m.list); $('skipped').textContent = m.skipped ? `${m.skipped} packets skipped` : ''; },
  rates(m) {
    state.rates = m.rates; drawRates();
    $('malformed').textContent = m.malformed ? `${m.malformed} malformed messages ignored` : '';
    // The view's own counters under the names `tapnet show stats` prints (uiWsMalformed, uiPacketsSkipped, ...).
    $('counters').replaceChildren(...Object.entries(m.counters ?? {}).map(([k, v]) => el('span', { class: 'counter', 'data-counter': k, text: `${k} ${v}` })));
  },
  packet(m) { showPacket(m); },
  tables(m) { if (m.node === state.node) showTables(m); },
  filterError(m) { state.awaitingView = false; $('filter-error').textContent = `filter: ${m.error} (at ${m.offset})`; },
  filterOk() { state.awaitingView = false; $('filter-error').textContent = ''; },
  malformed(m) { $('malformed').textContent = `${m.count} malformed messages ignored`; },
};

// --- topology ---------------------------------------------------------------

function layout(t) {
  // Breadth-first layers from the first host: hosts of one LAN end up in one column, routers between.
  const adj = new Map(t.nodes.map((n) => [n.name, []]));
  for (const l of t.links) { const a = l.a.split(':')[0], b = l.b.split(':')[0]; adj.get(a)?.push(b); adj.get(b)?.push(a); }
  const depth = new Map();
  const start = t.nodes.find((n) => n.kind === 'host') ?? t.nodes[0];
  for (const root of [start, ...t.nodes]) {
    if (!root || depth.has(root.name)) continue;
    depth.set(root.name, 0);
    const queue = [root.name];
    while (queue.length) { const n = queue.shift(); for (const m of adj.get(n) ?? []) if (!depth.has(m)) { depth.set(m, depth.get(n) + 1); queue.push(m); } }
  }
  const columns = [];
  for (const n of t.nodes) (columns[depth.get(n.name)] ??= []).push(n);
  const pos = new Map();
  const w = 640, h = 300;
  columns.forEach((col, i) => col.forEach((n, j) => pos.set(n.name, { x: 60 + (i * (w - 120)) / Math.max(1, columns.length - 1), y: ((j + 1) * h) / (col.length + 1) })));
  return pos;
}

function drawTopology() {
  const t = state.topology, svg = $('topology');
  svg.replaceChildren();
  $('title').textContent = `tapnet · ${t.name}`;
  const pos = layout(t);
  t.links.forEach((l, i) => {
    const a = pos.get(l.a.split(':')[0]), b = pos.get(l.b.split(':')[0]);
    if (!a || !b) return;
    svg.append(el('line', { class: `link${state.scope === `link:${i}` ? ' selected' : ''}`, x1: a.x, y1: a.y, x2: b.x, y2: b.y, 'data-link': i, onclick: () => setScope(`link:${i}`) }, el('title', { text: `${l.a} — ${l.b}` })));
    svg.append(el('text', { class: 'rate', x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 6, 'text-anchor': 'middle', 'data-rate': i, text: '' }));
    svg.append(el('text', { class: 'rate', x: a.x + (b.x - a.x) * 0.3, y: a.y + (b.y - a.y) * 0.3 + 13, 'text-anchor': 'middle', text: l.a.split(':')[1] }));
    svg.append(el('text', { class: 'rate', x: a.x + (b.x - a.x) * 0.7, y: a.y + (b.y - a.y) * 0.7 + 13, 'text-anchor': 'middle', text: l.b.split(':')[1] }));
  });
  for (const n of t.nodes) {
    const p = pos.get(n.name);
    const tapnet = n.kind !== 'host';
    const g = el('g', { class: `node ${n.kind}${tapnet ? ' tapnet' : ''}${state.node === n.name ? ' selected' : ''}`, 'data-node': n.name, onclick: () => selectNode(n) });
    const addresses = n.interfaces.flatMap((i) => i.addresses).filter((a) => !a.includes(':')).slice(0, 2).join(' ');
    // Wide enough for the addresses line (10px text, about 5.6px a character).
    const half = Math.max(46, Math.ceil(Math.max(n.name.length * 6.5, (addresses || n.kind).length * 5.6) / 2) + 6);
    g.append(el('rect', { x: p.x - half, y: p.y - 16, width: 2 * half, height: 32, rx: tapnet ? 3 : 14 }));
    g.append(el('text', { x: p.x, y: p.y - 2, 'text-anchor': 'middle', text: n.name }));
    g.append(el('text', { x: p.x, y: p.y + 11, 'text-anchor': 'middle', class: 'rate', text: addresses || n.kind }));
    g.append(el('title', { text: `${n.name} (${n.kind})\n${n.interfaces.map((i) => `${i.name}: ${i.addresses.join(', ')}`).join('\n')}` }));
    svg.append(g);
  }
  drawRates();
}

const human = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}G` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));
function drawRates() {
  if (!state.topology) return;
  state.topology.links.forEach((l, i) => {
    const r = state.rates[l.watch];
    const t = document.querySelector(`[data-rate="${i}"]`);
    if (t) t.textContent = r ? `${human(r.pps)} pkt/s ${human(r.bps)}b/s` : '';
  });
}

function fillScopes() {
  const s = $('scope');
  s.replaceChildren(el('option', { value: 'all', text: 'all links' }));
  state.topology.links.forEach((l, i) => s.append(el('option', { value: `link:${i}`, text: `link ${l.a} — ${l.b}` })));
  for (const n of state.topology.nodes) if (n.kind !== 'host') s.append(el('option', { value: `node:${n.name}`, text: `node ${n.name}` }));
  s.value = state.scope;
}

function setScope(scope) {
  state.scope = scope;
  $('scope').value = scope;
  $('packets').tBodies[0].replaceChildren();
  sendView();
  drawTopology();
}

function selectNode(n) {
  if (n.kind === 'host') return setScope('all');
  state.node = n.name;
  state.history.clear();
  send({ type: 'tables', node: n.name });
  setScope(`node:${n.name}`);
}

// --- packet list ------------------------------------------------------------

const t0 = Date.now();
function addPackets(list) {
  if (state.paused || state.awaitingView) return;
  const body = $('packets').tBodies[0];
  const wrap = $('packets-wrap');
  const atBottom = wrap.scrollTop + wrap.clientHeight >= wrap.scrollHeight - 20;
  for (const p of list) {
    const proto = p.protocols[p.protocols.length - 1] ?? '';
    const row = el('tr', { class: `p-${proto}`, 'data-id': p.id, 'data-protocols': p.protocols.join(' '), onclick: () => { select(p.id); } },
      el('td', { text: p.id }), el('td', { text: ((p.time - t0) / 1000).toFixed(3) }), el('td', { text: p.point }), el('td', { text: p.direction === 'rx' ? '→' : '←', title: p.direction }),
      el('td', { text: p.source ?? '' }), el('td', { text: p.destination ?? '' }), el('td', { text: proto.toUpperCase() }), el('td', { text: p.length }), el('td', { class: 'info', text: p.info }));
    body.append(row);
  }
  while (body.rows.length > LIST_MAX) body.deleteRow(0);
  if (atBottom) wrap.scrollTop = wrap.scrollHeight;
}

function select(id) {
  state.selected = id;
  for (const r of document.querySelectorAll('#packets tr.selected')) r.classList.remove('selected');
  document.querySelector(`#packets tr[data-id="${id}"]`)?.classList.add('selected');
  send({ type: 'select', id });
}

// --- one packet: layers, bytes, walk --------------------------------------------

function showPacket(m) {
  const detail = $('detail');
  detail.replaceChildren();
  if (m.gone) { detail.append(el('p', { class: 'hint', text: `packet ${m.id} has left the ring buffer` })); return; }
  detail.append(el('div', { text: `#${m.id} ${m.direction === 'rx' ? 'received on' : 'sent on'} ${m.point}, ${m.length} bytes${m.cause ? ` (sent while handling #${m.cause})` : ''}` }));
  for (const layer of m.layers) {
    const d = el('details', { class: 'layer', open: '', 'data-layer': layer.name }, el('summary', {}, `${layer.name}: ${layer.summary}`, el('span', { class: 'rfc', text: layer.rfc })));
    for (const f of layer.fields) {
      d.append(el('div', { class: 'field', 'data-field': f.name, onclick: (e) => { for (const x of document.querySelectorAll('.field.selected')) x.classList.remove('selected'); e.currentTarget.classList.add('selected'); highlight(f.offset, f.length); } },
        el('span', { class: 'name', text: f.name }), `: ${f.value}`));
    }
    if (layer.error) d.append(el('div', { class: 'field', text: `codec error: ${layer.error}` }));
    detail.append(d);
  }
  drawHex(m.hex);
  const walk = $('walk');
  walk.replaceChildren();
  if (m.direction === 'tx') walk.append(el('li', { class: 'hint', text: m.cause ? `sent while tapnet handled #${m.cause}: its walk shows why` : 'sent by a timer or a socket (no received packet caused it)' }, ...(m.cause ? [el('button', { text: `show #${m.cause}`, onclick: () => select(m.cause) })] : [])));
  for (const s of m.walk) {
    const where = s.file ? `${s.file}:${s.line}${s.fn ? ` ${s.fn}()` : ''}` : '';
    const text = s.kind === 'drop' ? `drop ${s.counter}: ${s.text}` : s.text;
    const li = el('li', { class: s.kind, 'data-kind': s.kind, onclick: () => { if (s.packet) select(s.packet); else if (s.file) openSource(s.file, s.line); } }, el('span', { text: `[${s.node}] ${text}` }), el('span', { class: 'where', text: where }));
    walk.append(li);
  }
}

let hexBytes = [];
function drawHex(hex) {
  hexBytes = hex.match(/../g) ?? [];
  highlight(-1, 0);
}
function highlight(offset, length) {
  const out = $('hex');
  out.replaceChildren();
  for (let row = 0; row < hexBytes.length; row += 16) {
    out.append(`${row.toString(16).padStart(4, '0')}  `);
    for (let i = row; i < Math.min(row + 16, hexBytes.length); i++) {
      const on = i >= offset && i < offset + length;
      out.append(on ? el('span', { class: 'hl', text: hexBytes[i] }) : hexBytes[i], ' ');
    }
    out.append('\n');
  }
}

async function openSource(file, line) {
  const r = await fetch(`/src/${file}${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  const pre = $('source');
  pre.replaceChildren();
  $('source-title').textContent = `src/${file}:${line} (read-only)`;
  if (!r.ok) { pre.textContent = `${r.status}`; return; }
  const lines = (await r.text()).split('\n');
  let target;
  lines.forEach((text, i) => {
    const row = el('span', { class: i + 1 === line ? 'hl' : '' }, el('span', { class: 'ln', text: i + 1 }), `${text}\n`);
    if (i + 1 === line) target = row;
    pre.append(row);
  });
  target?.scrollIntoView({ block: 'center' });
}

// --- tables -------------------------------------------------------------------

/** A nested value in one cell: `src=10.1.0.10 dport=80` rather than JSON. */
const cellText = (v) => (v === undefined || v === null ? '' : typeof v !== 'object' ? String(v) : Array.isArray(v) ? v.map(cellText).join(', ') : Object.entries(v).map(([k, x]) => `${k}=${cellText(x)}`).join(' '));

function rowsTable(title, rows) {
  // A table that is an object holding one list of rows (conntrack: { max, entries }) shows that list.
  if (rows && typeof rows === 'object' && !Array.isArray(rows) && Array.isArray(rows.entries)) rows = rows.entries;
  const box = el('div', { class: 'table', 'data-table': title }, el('h4', { text: title }));
  if (rows === null || rows === undefined) { box.append(el('div', { class: 'hint', text: '(none on this node)' })); return box; }
  if (!Array.isArray(rows)) rows = typeof rows === 'object' && rows !== null ? Object.entries(rows).map(([k, v]) => ({ name: k, value: typeof v === 'object' ? JSON.stringify(v) : v })) : [{ value: rows }];
  if (rows.length === 0) { box.append(el('div', { class: 'hint', text: '(empty)' })); return box; }
  const keys = [...new Set(rows.flatMap((r) => (typeof r === 'object' && r !== null ? Object.keys(r) : ['value'])))];
  const table = el('table', {}, el('tr', {}, ...keys.map((k) => el('th', { text: k }))));
  for (const r of rows) {
    const o = typeof r === 'object' && r !== null ? r : { value: r };
    table.append(el('tr', {}, ...keys.map((k) => el('td', { text: cellText(o[k]) }))));
  }
  box.append(table);
  return box;
}

function showTables(m) {
  const box = $('tables');
  box.replaceChildren(el('h3', { text: `${m.node}: tables (live)` }));
  for (const [name, rows] of Object.entries(m.tables)) {
    if (name === 'tcp' && rows && typeof rows === 'object') {
      box.append(rowsTable('tcp listeners', rows.listeners ?? []));
      box.append(rowsTable('tcp connections', (rows.connections ?? []).map((c) => ({ state: c.state, local: c.local, remote: c.remote, cwnd: c.cwnd, ssthresh: c.ssthresh, srtt: c.srtt, rto: c.rto, retransmits: c.retransmits, inflight: c.bytesInFlight, mss: c.mss }))));
      box.append(tcpChart(rows.connections ?? [], m.time));
    } else if (name === 'dns' && rows && typeof rows === 'object') {
      // The zone tapnet serves, and the answers its forwarder or resolver holds (name, type, records, TTL left).
      box.append(rowsTable('dns cache', (rows.cache ?? []).map((c) => ({ name: c.name, type: c.type, result: c.result, answers: c.answers, 'ttl left': c.ttlLeft }))));
      box.append(rowsTable('dns zone', (rows.records ?? []).map((r) => ({ record: r.record, source: r.source }))));
    } else if (name === 'leases') box.append(rowsTable('dhcp leases', rows));
    else box.append(rowsTable(name, rows));
  }
}

/** cwnd (bytes) and srtt (ms) of each connection over the last minute, drawn as lines. */
function tcpChart(connections, time) {
  for (const c of connections) {
    const key = `${c.local} ${c.remote}`;
    const h = state.history.get(key) ?? [];
    h.push({ time, cwnd: c.cwnd, srtt: c.srtt ?? 0 });
    while (h.length > 60) h.shift();
    state.history.set(key, h);
  }
  const svg = el('svg', { width: 420, height: 120, viewBox: '0 0 420 120', class: 'table', 'data-table': 'tcp chart' });
  svg.append(el('text', { x: 4, y: 12, text: 'cwnd (blue) and srtt (red), last 60 s' }));
  for (const h of state.history.values()) {
    const maxC = Math.max(1, ...h.map((p) => p.cwnd)), maxR = Math.max(1, ...h.map((p) => p.srtt));
    const pts = (f, max) => h.map((p, i) => `${10 + i * 6.8},${115 - (f(p) / max) * 95}`).join(' ');
    svg.append(el('polyline', { points: pts((p) => p.cwnd, maxC), fill: 'none', stroke: '#2b6cb0' }));
    svg.append(el('polyline', { points: pts((p) => p.srtt, maxR), fill: 'none', stroke: '#c53030' }));
  }
  return svg;
}

// --- controls -------------------------------------------------------------------

$('filter').addEventListener('change', (e) => { state.filter = e.target.value; $('packets').tBodies[0].replaceChildren(); sendView(); });
$('scope').addEventListener('change', (e) => {
  const v = e.target.value;
  if (v.startsWith('node:')) { const n = state.topology.nodes.find((x) => x.name === v.slice(5)); if (n) return selectNode(n); }
  setScope(v);
});
$('pause').addEventListener('click', () => {
  state.paused = !state.paused;
  $('pause').textContent = state.paused ? 'resume' : 'pause';
  send({ type: 'pause', paused: state.paused });
});
connect();
