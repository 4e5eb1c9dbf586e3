// Drives Palisade's dashboard in Debian's Chromium with playwright-core, for
// bin/palisade/tests/dashboard.rs and benches/dashboard_latency.rs.
//
//   node dashboard.cjs PHASE   (settings in the environment, see below)
//
// Phases:
//   live        pokes the anvil chain 3 times, waits for the 3 alerts on the page, reorgs the
//               newest block out (anvil_reorg) and waits for its alert to show as retracted,
//               then acknowledges the oldest one on its page with a note. Prints JSON
//               {"acked": KEY, "open": KEY, "retracted": KEY}.
//   restarted   checks that alert ACK_KEY still shows acknowledged with its note, and that
//               RETRACTED_KEY still shows retracted.
//   read-only   checks that the page offers no ack for OPEN_KEY and that an ack sent from the
//               page is refused; the alert stays open.
//   watch       prints READY once live, then records when each new alert row is first painted
//               until COUNT rows arrived; writes {tx_hash: epoch_ms} to OUT.
//
// Environment: PALISADE_URL, ANVIL_URL, VAULT, POKE_FROM, TOKEN (optional), ACK_KEY,
// RETRACTED_KEY, OPEN_KEY, COUNT, OUT, PALISADE_PLAYWRIGHT (the playwright-core directory).
'use strict';

const { chromium } = require(process.env.PALISADE_PLAYWRIGHT || 'playwright-core');
const fs = require('fs');

const env = (k) => {
  const v = process.env[k];
  if (v === undefined) throw new Error('missing environment variable ' + k);
  return v;
};

async function rpc(method, params) {
  const r = await fetch(env('ANVIL_URL'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const j = await r.json();
  if (j.error) throw new Error(method + ': ' + JSON.stringify(j.error));
  return j.result;
}

async function poke(value) {
  // poke(uint256): selector 0x28c8b315? computed by the Rust side and passed as POKE_DATA_PREFIX.
  const data = env('POKE_SELECTOR') + value.toString(16).padStart(64, '0');
  const hash = await rpc('eth_sendTransaction', [{ from: env('POKE_FROM'), to: env('VAULT'), data, gas: '0x100000' }]);
  // Mined before the next one is sent: anvil's automine may otherwise put two pokes sent in
  // quick succession in one block, and the reorg below would retract both.
  await until('poke ' + hash + ' mined', 10000, () => rpc('eth_getTransactionReceipt', [hash]));
  return hash.toLowerCase();
}

async function open(hash) {
  const browser = await chromium.launch({
    executablePath: process.env.PALISADE_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
  const context = await browser.newContext();
  const token = process.env.TOKEN;
  await context.addInitScript((t) => {
    if (t) localStorage.setItem('palisade-token', t);
    // When each alert row is first painted (the frame after it entered the DOM).
    window.__painted = {};
    new MutationObserver((records) => {
      const fresh = [];
      for (const r of records) {
        for (const n of r.addedNodes) {
          if (n.nodeType === 1 && n.matches && n.matches('tr.alert') && !(n.dataset.key in window.__painted)) {
            window.__painted[n.dataset.key] = null;
            fresh.push(n);
          }
        }
      }
      if (fresh.length) {
        requestAnimationFrame(() => {
          const at = performance.timeOrigin + performance.now();
          for (const n of fresh) window.__painted[n.dataset.key] = { at, tx: n.dataset.tx || null };
        });
      }
    }).observe(document, { subtree: true, childList: true });
  }, token || '');
  const page = await context.newPage();
  current = page;
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(env('PALISADE_URL') + '/' + hash);
  return { browser, page, errors };
}

// The page in use, for what a failure prints.
let current = null;

async function waitLive(page) {
  await page.waitForSelector('#live.on', { timeout: 20000 });
}

const rowsOf = (page, detector) => page.$$eval('tr.alert', (rows, d) => rows
  .filter((r) => r.textContent.includes(d))
  .map((r) => ({ key: r.dataset.key, status: r.dataset.status, tx: r.dataset.tx.toLowerCase(), text: r.textContent })), detector);

async function until(what, ms, f) {
  const t = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t > ms) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function live() {
  const { browser, page, errors } = await open('#/alerts');
  await waitLive(page);
  const pokes = [];
  for (let i = 1; i <= 3; i++) pokes.push(await poke(7000 + i));
  // Each poke's alert, oldest first (each poke in its own block).
  const [oldest, middle, newest] = await until('3 poke alerts on the page', 30000, async () => {
    const r = await rowsOf(page, 'rule:poke');
    const mine = pokes.map((h) => r.find((x) => x.tx === h));
    return mine.every(Boolean) ? mine : null;
  });
  // The newest poke's block is reorged out: its alert must stay on the page, as retracted.
  await rpc('anvil_reorg', [1, []]);
  await until('the reorged alert shown as retracted', 30000, async () => {
    const r = (await rowsOf(page, 'rule:poke')).find((x) => x.key === newest.key);
    return r && r.status === 'reorged' && r.text.includes('retracted');
  });
  // Acknowledge the oldest on its page, with a note.
  await page.click(`tr.alert[data-key="${oldest.key}"] td.title a`);
  await page.waitForSelector('#ack:not([disabled])');
  await page.fill('#note', 'checked on the page');
  await page.click('#ack');
  await page.waitForSelector('#detail-status[data-status="acked"]', { timeout: 10000 });
  const notes = await page.textContent('#notes');
  if (!notes.includes('checked on the page')) throw new Error('note not in history: ' + notes);
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
  const others = (await rowsOf(page, 'rule:poke')).filter((x) => x.key !== newest.key && x.status === 'reorged');
  if (others.length) throw new Error('the reorg retracted more than the newest poke: ' + JSON.stringify(others));
  console.log(JSON.stringify({ acked: oldest.key, open: middle.key, retracted: newest.key }));
  await browser.close();
}

async function restarted() {
  const { browser, page, errors } = await open('#/alert/' + env('ACK_KEY'));
  await page.waitForSelector('#detail-status[data-status="acked"]', { timeout: 20000 });
  const notes = await page.textContent('#notes');
  if (!notes.includes('checked on the page')) throw new Error('note lost across the restart: ' + notes);
  // A late answer for the page being left must not paint over the next one: this alert's page
  // is rendered again and the list opened before that request lands (what a live event for the
  // alert, arriving just before a navigation, does).
  await page.evaluate(() => { route(); location.hash = '#/alerts'; });
  await page.waitForSelector(`tr.alert[data-key="${env('RETRACTED_KEY')}"][data-status="reorged"]`, { timeout: 20000 });
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
  console.log(JSON.stringify({ ok: true }));
  await browser.close();
}

async function readOnly() {
  const key = env('OPEN_KEY');
  const { browser, page, errors } = await open('#/alert/' + key);
  await page.waitForSelector('#detail-status[data-status="open"]', { timeout: 20000 });
  const mode = await page.textContent('#mode');
  if (!mode.includes('read-only')) throw new Error('mode badge says ' + mode);
  if (!(await page.isDisabled('#ack'))) throw new Error('the ack button is offered in read-only mode');
  // An ack sent from the page anyway (with the operate token) is refused by the server.
  const answer = await page.evaluate(async ([k, t]) => {
    const r = await fetch('/api/v1/alerts/' + k + '/ack', {
      method: 'POST', headers: { Authorization: 'Bearer ' + t, 'Content-Type': 'application/json' }, body: '{"note":"should not land"}',
    });
    return { status: r.status, body: await r.json() };
  }, [key, env('TOKEN')]);
  if (answer.status !== 403 || !String(answer.body.error).includes('read-only')) throw new Error('ack not refused: ' + JSON.stringify(answer));
  await page.reload();
  await page.waitForSelector('#detail-status[data-status="open"]', { timeout: 20000 });
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
  console.log(JSON.stringify({ refused: answer.status }));
  await browser.close();
}

async function watch() {
  const count = Number(env('COUNT'));
  const { browser, page, errors } = await open('#/alerts');
  await waitLive(page);
  const initial = await page.evaluate(() => Object.keys(window.__painted).length);
  console.log('READY');
  const painted = await until(count + ' new rows', 600000, async () => {
    const p = await page.evaluate(() => window.__painted);
    const done = Object.values(p).filter((v) => v && v.tx).length;
    return done >= initial + count ? p : null;
  });
  const out = {};
  for (const v of Object.values(painted)) if (v && v.tx) out[v.tx] = v.at;
  fs.writeFileSync(env('OUT'), JSON.stringify(out));
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
  await browser.close();
}

const phases = { live, restarted, 'read-only': readOnly, watch };
const phase = phases[process.argv[2]];
if (!phase) {
  console.error('usage: node dashboard.cjs live|restarted|read-only|watch');
  process.exit(2);
}
phase().catch(async (e) => {
  console.error(e && e.stack ? e.stack : String(e));
  // What the page showed when it failed.
  if (current) {
    const seen = await current.evaluate(() => ({
      url: location.href,
      main: (document.getElementById('main') || {}).innerText,
      rows: [...document.querySelectorAll('tr.alert')].map((r) => [r.dataset.key, r.dataset.status]),
    })).catch((err) => String(err));
    console.error('page at failure: ' + JSON.stringify(seen).slice(0, 4000));
  }
  process.exit(1);
});
