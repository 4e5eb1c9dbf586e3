// Palisade dashboard: plain JavaScript, no dependencies. It reads /api/v1 and follows
// /api/v1/events (server-sent events) for live changes. Every value from the API is put into
// the page as text (never as HTML).
'use strict';

const state = {
  meta: null,
  alerts: new Map(), // key -> alert JSON
  filters: { chain: '', severity: '', status: '' },
  nextCursor: null,
  chains: {},
  source: null,
  seenAt: new Map(), // key -> performance time it was first shown (for latency measurements)
  route: 0, // bumped on every route(): a page painting after its requests checks it is still current
};

const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];
const STATUSES = ['pending', 'open', 'acked', 'resolved', 'reorged'];

// ---- helpers ---------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function token() {
  return localStorage.getItem('palisade-token') || '';
}

async function api(path, opts) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  const init = { headers, ...(opts || {}) };
  if (init.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(init.body);
  }
  const r = await fetch(path, init);
  let body = null;
  try { body = await r.json(); } catch (_) { body = null; }
  if (!r.ok) {
    const msg = (body && body.error) || ('HTTP ' + r.status);
    const err = new Error(msg);
    err.status = r.status;
    throw err;
  }
  return body;
}

function flash(msg, kind) {
  const f = document.getElementById('flash');
  f.textContent = msg;
  f.className = kind || 'info';
  f.hidden = false;
  clearTimeout(flash.t);
  flash.t = setTimeout(() => { f.hidden = true; }, 8000);
}

function when(a) {
  return (a.created_at || '').replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function statusLabel(s) {
  return s === 'reorged' ? 'retracted' : s;
}

function short(h, n) {
  if (!h) return '';
  return h.length > (n || 12) ? h.slice(0, n || 12) + '…' : h;
}

// ---- alerts ----------------------------------------------------------------------------

function alertRow(a) {
  const canWrite = state.meta && state.meta.writes_enabled;
  const silenced = a.silenced_until && Date.parse(a.silenced_until) > Date.now();
  const tr = el('tr', {
    class: 'alert sev-' + a.severity + ' st-' + a.status,
    dataset: { key: a.key, status: a.status, tx: (a.tx_hashes || [])[0] || '' },
  },
  el('td', { class: 'time' }, when(a)),
  el('td', null, a.chain),
  el('td', { class: 'num' }, a.block_number),
  el('td', null, el('span', { class: 'sev sev-' + a.severity }, a.severity)),
  el('td', null, a.detector),
  el('td', { class: 'title' }, el('a', { href: '#/alert/' + a.key }, a.title),
    (a.amounts || []).length ? el('div', { class: 'units' }, a.amounts.map((x) => x[0] + ': ' + x[2]).join(' · ')) : null),
  el('td', null, el('span', { class: 'status status-' + a.status }, statusLabel(a.status)),
    silenced ? el('span', { class: 'status status-silenced' }, 'silenced') : null),
  el('td', { class: 'actions' },
    (a.status === 'open' || a.status === 'pending')
      ? el('button', {
        type: 'button', class: 'ack', disabled: !canWrite,
        title: canWrite ? 'Acknowledge' : (state.meta && state.meta.read_only ? 'read-only mode' : 'needs an operate token'),
        onclick: (ev) => { ev.stopPropagation(); act(a.key, 'ack', {}); },
      }, 'Ack')
      : null));
  return tr;
}

function sortedAlerts() {
  const f = state.filters;
  const min = f.severity ? SEVERITIES.indexOf(f.severity) : 0;
  return [...state.alerts.values()]
    .filter((a) => (!f.chain || a.chain === f.chain)
      && (!f.status || a.status === f.status)
      && SEVERITIES.indexOf(a.severity) >= min)
    .sort((x, y) => (y.created_ms - x.created_ms) || (y.block_number - x.block_number) || (x.key < y.key ? 1 : -1));
}

function renderAlertRows() {
  const body = document.getElementById('alert-rows');
  if (!body) return;
  const rows = sortedAlerts();
  body.replaceChildren(...rows.map(alertRow));
  const now = performance.now();
  for (const a of rows) {
    if (!state.seenAt.has(a.key)) state.seenAt.set(a.key, now);
  }
  const empty = document.getElementById('alerts-empty');
  if (empty) empty.hidden = rows.length > 0;
}

async function loadAlerts(more) {
  const q = new URLSearchParams({ limit: '200' });
  const f = state.filters;
  if (f.chain) q.set('chain', f.chain);
  if (f.severity) q.set('severity', f.severity);
  if (f.status) q.set('status', f.status);
  if (more && state.nextCursor) q.set('cursor', state.nextCursor);
  const page = await api('/api/v1/alerts?' + q);
  for (const a of page.items) state.alerts.set(a.key, a);
  state.nextCursor = page.next_cursor;
  renderAlertRows();
  const m = document.getElementById('more');
  if (m) m.hidden = !state.nextCursor;
}

function selectFilter(name, values) {
  return el('label', null, name + ' ',
    el('select', {
      id: 'filter-' + name,
      onchange: (ev) => { state.filters[name] = ev.target.value; state.nextCursor = null; renderAlertRows(); loadAlerts(false).catch((e) => flash(e.message, 'error')); },
    }, el('option', { value: '' }, 'any'),
    values.map((v) => el('option', { value: v, selected: state.filters[name] === v }, name === 'status' ? statusLabel(v) : v))));
}

async function pageAlerts(main) {
  const chains = (state.meta && state.meta.chains) || [];
  main.replaceChildren(
    el('h1', null, 'Alerts'),
    el('div', { class: 'filters' },
      selectFilter('chain', chains), selectFilter('severity', SEVERITIES), selectFilter('status', STATUSES)),
    el('table', { class: 'alerts' },
      el('thead', null, el('tr', null, ['Found', 'Chain', 'Block', 'Severity', 'Detector', 'Finding', 'Status', ''].map((h) => el('th', null, h)))),
      el('tbody', { id: 'alert-rows' })),
    el('p', { id: 'alerts-empty', class: 'muted', hidden: true }, 'No alerts.'),
    el('button', { id: 'more', type: 'button', hidden: true, onclick: () => loadAlerts(true).catch((e) => flash(e.message, 'error')) }, 'Older'));
  renderAlertRows();
  await loadAlerts(false);
}

async function act(key, what, body) {
  try {
    const a = await api('/api/v1/alerts/' + key + '/' + what, { method: 'POST', body });
    state.alerts.set(a.key, a);
    flash((what === 'ack' ? 'Acknowledged ' : what === 'resolve' ? 'Resolved ' : what === 'silence' ? 'Silenced ' : 'Noted ') + short(a.key), 'ok');
    route();
  } catch (e) {
    flash('Refused: ' + e.message, 'error');
  }
}

async function pageAlert(main, key) {
  const a = await api('/api/v1/alerts/' + encodeURIComponent(key));
  state.alerts.set(a.key, a);
  const canWrite = state.meta && state.meta.writes_enabled;
  const kv = (k, v) => el('tr', null, el('th', null, k), el('td', null, v));
  const note = el('textarea', { id: 'note', rows: 2, placeholder: 'note (kept in the history)' });
  const silenceFor = el('select', { id: 'silence-for' }, ['30m', '2h', '12h', '1d', '7d'].map((d) => el('option', { value: d }, d)));
  const body = () => ({ note: note.value.trim() || undefined });
  main.replaceChildren(
    el('p', null, el('a', { href: '#/alerts' }, '← Alerts')),
    el('h1', { class: 'st-' + a.status }, a.title),
    el('p', null, el('span', { class: 'sev sev-' + a.severity }, a.severity), ' ',
      el('span', { id: 'detail-status', class: 'status status-' + a.status, dataset: { status: a.status } }, statusLabel(a.status)),
      a.status === 'reorged' ? el('span', { class: 'muted' }, ' — its block left the canonical chain in a reorg') : null),
    el('table', { class: 'kv' },
      kv('Key', a.key), kv('Chain', a.chain), kv('Block', a.block_number + ' ' + (a.block_hash || '')),
      kv('Detector', a.detector + ' (' + a.kind + ')'), kv('Found', a.created_at), kv('Revision', a.revision),
      kv('Transactions', (a.tx_hashes || []).join(', ') || '—'),
      kv('Silenced until', a.silenced_until || '—'),
      (a.amounts || []).length ? kv('Amounts', a.amounts.map((x) => x[0] + ': ' + x[2] + ' (raw ' + x[1] + ')').join('\n')) : null),
    el('h2', null, 'Evidence'),
    el('pre', { class: 'evidence' }, JSON.stringify(a.evidence, null, 2)),
    el('h2', null, 'Act'),
    canWrite ? null : el('p', { class: 'muted' }, state.meta && state.meta.read_only ? 'Read-only mode: nothing can be changed here.' : 'Set an operate token to act.'),
    el('div', { class: 'act' }, note,
      el('button', { id: 'ack', type: 'button', disabled: !canWrite, onclick: () => act(a.key, 'ack', body()) }, 'Acknowledge'),
      el('button', { id: 'resolve', type: 'button', disabled: !canWrite, onclick: () => act(a.key, 'resolve', body()) }, 'Resolve'),
      silenceFor,
      el('button', { id: 'silence', type: 'button', disabled: !canWrite, onclick: () => act(a.key, 'silence', { ...body(), for: silenceFor.value }) }, 'Silence'),
      el('button', { id: 'add-note', type: 'button', disabled: !canWrite, onclick: () => act(a.key, 'notes', body()) }, 'Add note')),
    el('h2', null, 'History'),
    a.notes.length ? el('ol', { id: 'notes', class: 'notes' }, a.notes.map((n) => el('li', null,
      el('span', { class: 'time' }, n.at), ' ', el('strong', null, n.by), ' ', n.action, n.note ? ': ' : '', n.note ? el('q', null, n.note) : null)))
      : el('p', { class: 'muted' }, 'Nothing yet.'),
    el('h2', null, 'Deliveries'),
    a.deliveries.length ? el('table', null, el('tr', null, ['Sink', 'Action', 'Rev', 'Attempts', 'Delivered', 'Error'].map((h) => el('th', null, h))),
      a.deliveries.map((d) => el('tr', null, el('td', null, d.sink), el('td', null, d.action), el('td', null, d.revision), el('td', null, d.attempts),
        el('td', null, d.delivered_at || (d.parked_ms ? 'parked' : 'queued')), el('td', null, d.last_error || ''))))
      : el('p', { class: 'muted' }, 'No notifications queued.'),
    a.responses.length ? el('h2', null, 'Responses') : null,
    a.responses.length ? responsesTable(a.responses) : null);
}

// ---- chains ----------------------------------------------------------------------------

function blockChart(blocks) {
  const pts = blocks.filter((b) => b.timestamp).sort((x, y) => x.number - y.number);
  if (pts.length < 3) return el('p', { class: 'muted' }, 'Not enough blocks for a chart yet.');
  const gaps = [];
  for (let i = 1; i < pts.length; i++) gaps.push([pts[i].number, pts[i].timestamp - pts[i - 1].timestamp]);
  const W = 600, H = 120, max = Math.max(1, ...gaps.map((g) => g[1]));
  const x0 = gaps[0][0], x1 = gaps[gaps.length - 1][0];
  const sx = (n) => (x1 === x0 ? 0 : ((n - x0) / (x1 - x0)) * (W - 40) + 35);
  const sy = (v) => H - 15 - (v / max) * (H - 25);
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'chart');
  const line = document.createElementNS(NS, 'polyline');
  line.setAttribute('points', gaps.map((g) => sx(g[0]).toFixed(1) + ',' + sy(g[1]).toFixed(1)).join(' '));
  svg.append(line);
  for (const [t, y] of [[max + ' s', sy(max)], ['0 s', sy(0)]]) {
    const l = document.createElementNS(NS, 'text');
    l.setAttribute('x', '2'); l.setAttribute('y', String(y + 4)); l.textContent = t;
    svg.append(l);
  }
  return el('figure', null, svg, el('figcaption', { class: 'muted' }, `Seconds between blocks ${x0}–${x1}`));
}

async function pageChains(main) {
  const chains = await api('/api/v1/chains');
  const rows = chains.map((c) => el('tr', { dataset: { chain: c.name } },
    el('td', null, c.name), el('td', { class: 'num tip' }, c.tip ?? '—'), el('td', { class: 'num' }, c.head ?? '—'),
    el('td', { class: 'num' }, c.lag ?? '—'), el('td', { class: 'num' }, c.confirmed ?? '—'),
    el('td', { class: 'num' }, c.last_block_age_secs ?? '—'),
    el('td', { class: 'num' }, c.reorged_blocks + (c.deepest_reorg ? ' (deepest ' + c.deepest_reorg + ')' : '')),
    el('td', null, c.quorum ? c.quorum.counting + '/' + c.quorum.required + (c.quorum.met ? '' : ' NOT MET') : ''),
    el('td', { class: 'error' }, c.error || '')));
  main.replaceChildren(el('h1', null, 'Chains'),
    el('table', { id: 'chains' }, el('tr', null, ['Chain', 'Tip', 'Head', 'Lag', 'Confirmed', 'Last block (s ago)', 'Reorged blocks', 'Quorum', 'Error'].map((h) => el('th', null, h))), rows));
  for (const c of chains) {
    const b = await api('/api/v1/chains/' + encodeURIComponent(c.name) + '/blocks?limit=120');
    main.append(el('h2', null, c.name + ': block times'), blockChart(b.blocks));
  }
}

// ---- trust -----------------------------------------------------------------------------

async function pageTrust(main) {
  const chains = await api('/api/v1/endpoints');
  main.replaceChildren(el('h1', null, 'Trust'));
  if (!chains.length) main.append(el('p', { class: 'muted' }, 'No chain has reported its endpoints yet.'));
  for (const c of chains) {
    main.append(el('h2', null, c.chain + ' — quorum ' + c.quorum.counting + '/' + c.quorum.required),
      el('table', { class: 'endpoints' },
        el('tr', null, ['#', 'Endpoint', 'Standing', 'Why', 'Strikes', 'Head', 'Lag', 'Latency ms', 'Peers'].map((h) => el('th', null, h))),
        c.endpoints.map((e) => el('tr', { class: 'ep-' + e.state },
          el('td', null, e.index), el('td', null, e.url), el('td', null, el('span', { class: 'status status-' + e.state }, e.state)),
          el('td', null, e.reason || ''), el('td', { class: 'num' }, e.strikes), el('td', { class: 'num' }, e.head ?? '—'),
          el('td', { class: 'num' }, e.lag ?? '—'), el('td', { class: 'num' }, e.latency_ms ?? '—'), el('td', { class: 'num' }, e.peers ?? '—')))),
      el('h3', null, 'History'),
      c.history.length ? el('ol', { class: 'history' }, c.history.slice().reverse().map((h) => el('li', null,
        el('span', { class: 'time' }, h.at), ' #' + h.index + ' ' + h.url + ': ' + h.from + ' → ' + h.to + (h.reason ? ' (' + h.reason + ')' : '')))) : el('p', { class: 'muted' }, 'No changes.'),
      el('h3', null, 'Verification failures'),
      c.verification_failures.length ? el('ul', null, c.verification_failures.map((a) => el('li', null, el('a', { href: '#/alert/' + a.key }, a.title))))
        : el('p', { class: 'muted' }, 'None.'));
  }
}

// ---- defense ---------------------------------------------------------------------------

function responsesTable(rows) {
  return el('table', { class: 'responses' },
    el('tr', null, ['Responder', 'Action', 'Chain', 'Stage', 'Dry run', 'Outcome', 'Alert', 'Updated', 'Error'].map((h) => el('th', null, h))),
    rows.map((r) => el('tr', null, el('td', null, r.responder), el('td', null, r.kind), el('td', null, r.chain), el('td', null, r.stage),
      el('td', null, r.dry_run ? 'yes' : 'no'), el('td', null, r.outcome), el('td', null, el('a', { href: '#/alert/' + r.alert_key }, short(r.alert_key))),
      el('td', { class: 'time' }, r.updated_at), el('td', null, r.error || ''))));
}

async function pageDefense(main) {
  const [mp, rs] = await Promise.all([api('/api/v1/mempool'), api('/api/v1/responders')]);
  main.replaceChildren(el('h1', null, 'Defense'),
    el('h2', null, 'Mempool watch'),
    mp.watches.length ? el('table', null, el('tr', null, ['Chain', 'Pending', 'Judged', 'State block', 'Findings', 'Last error'].map((h) => el('th', null, h))),
      mp.watches.map((w) => el('tr', null, el('td', null, w.chain), el('td', { class: 'num' }, w.watch.pending), el('td', { class: 'num' }, w.watch.judged),
        el('td', { class: 'num' }, w.watch.state_block ?? '—'), el('td', { class: 'num' }, w.watch.findings), el('td', null, w.watch.last_error || ''))))
      : el('p', { class: 'muted' }, 'No chain watches its mempool.'),
    el('h3', null, 'Findings about pending transactions (simulated)'),
    mp.findings.length ? el('ul', null, mp.findings.map((a) => el('li', null, el('a', { href: '#/alert/' + a.key }, a.title)))) : el('p', { class: 'muted' }, 'None.'),
    el('h2', null, 'Responders'),
    rs.responders.length ? el('table', null, el('tr', null, ['Name', 'Action', 'Chain', 'Dry run', 'Policy'].map((h) => el('th', null, h))),
      rs.responders.map((r) => el('tr', null, el('td', null, r.name), el('td', null, r.type), el('td', null, r.chain || 'any'),
        el('td', null, r.dry_run ? 'yes' : 'NO — live'), el('td', null, el('code', null, JSON.stringify(r.policy))))))
      : el('p', { class: 'muted' }, 'No responders configured.'),
    el('h3', null, 'Plans, dry runs, sends and outcomes'),
    rs.responses.length ? responsesTable(rs.responses) : el('p', { class: 'muted' }, 'None yet.'));
}

// ---- live ------------------------------------------------------------------------------

function connect() {
  if (state.source) state.source.close();
  let since = 0;
  for (const a of state.alerts.values()) since = Math.max(since, a.updated_ms || 0);
  const q = new URLSearchParams();
  if (since) q.set('since_ms', String(since));
  const t = token();
  if (t && state.meta && state.meta.reads_need_token) q.set('access_token', t);
  const src = new EventSource('/api/v1/events?' + q);
  state.source = src;
  const live = document.getElementById('live');
  src.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on'; });
  src.addEventListener('error', () => { live.textContent = 'reconnecting'; live.className = 'live off'; });
  src.addEventListener('alert', (ev) => {
    const a = JSON.parse(ev.data);
    state.alerts.set(a.key, a);
    const page = (location.hash || '#/alerts').split('/')[1];
    if (page === 'alerts' || page === '') renderAlertRows();
    else if (page === 'alert' && decodeURIComponent(location.hash.split('/')[2] || '') === a.key) route();
  });
  src.addEventListener('chains', (ev) => {
    state.chains = JSON.parse(ev.data);
    for (const [name, c] of Object.entries(state.chains)) {
      const cell = document.querySelector('#chains tr[data-chain="' + CSS.escape(name) + '"] td.tip');
      if (cell) cell.textContent = c.tip ?? '—';
    }
  });
}

// ---- shell -----------------------------------------------------------------------------

// A page's handle on #main. Pages paint after their requests land; by then the user (or a live
// event) may have moved to another page, and a late answer must not paint over it.
function view(seq) {
  const main = document.getElementById('main');
  const current = () => seq === state.route;
  return {
    replaceChildren: (...nodes) => { if (current()) main.replaceChildren(...nodes); },
    append: (...nodes) => { if (current()) main.append(...nodes); },
  };
}

async function route() {
  const main = view(++state.route);
  const parts = (location.hash || '#/alerts').slice(2).split('/');
  const page = parts[0] || 'alerts';
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === page);
  try {
    if (page === 'alert' && parts[1]) await pageAlert(main, decodeURIComponent(parts[1]));
    else if (page === 'chains') await pageChains(main);
    else if (page === 'trust') await pageTrust(main);
    else if (page === 'defense') await pageDefense(main);
    else await pageAlerts(main);
  } catch (e) {
    main.replaceChildren(el('p', { class: 'error' }, 'Cannot load: ' + e.message));
  }
}

async function start() {
  document.getElementById('token-button').addEventListener('click', () => {
    const t = window.prompt('API token (kept in this browser only; empty to forget):', '');
    if (t === null) return;
    if (t) localStorage.setItem('palisade-token', t.trim()); else localStorage.removeItem('palisade-token');
    start();
  });
  try {
    state.meta = await api('/api/v1');
  } catch (e) {
    state.meta = { read_only: false, writes_enabled: false, chains: [] };
    flash('API: ' + e.message, 'error');
  }
  const mode = document.getElementById('mode');
  mode.textContent = state.meta.read_only ? 'read-only' : (state.meta.scope === 'operate' ? 'operator: ' + state.meta.caller : (state.meta.caller ? 'reader: ' + state.meta.caller : 'viewer'));
  mode.dataset.mode = state.meta.read_only ? 'read-only' : (state.meta.scope || 'none');
  await route();
  connect();
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', start);
// For measurements: when each alert was first shown (performance.now() of this page).
window.palisadeSeenAt = (key) => state.seenAt.get(key);
