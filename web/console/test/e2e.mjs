// The console in a real browser: Debian's headless Chromium driven by playwright-core against a
// running sluice (tests/integ/console.sh starts it). Every page must render, the numbers it
// shows must be the API's (fetched here with the same token), charts must grow, and the login
// prompt must take the token of the tokens file and refuse another.
//
//   node e2e.mjs --url http://127.0.0.1:PORT --token TOKEN [--screenshots DIR]
//                [--generator NAME --count N]
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const arg = (k, d) => { const i = process.argv.indexOf('--' + k); return i > 0 ? process.argv[i + 1] : d; };
const BASE = arg('url'), TOKEN = arg('token'), SHOTS = arg('screenshots');
const GEN = arg('generator', 'zeek'), COUNT = Number(arg('count', '0'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!BASE || !TOKEN) { console.error('usage: e2e.mjs --url URL --token TOKEN [--screenshots DIR]'); process.exit(2); }

let failures = 0;
const ok = m => console.log('ok: ' + m);
const fail = m => { console.error('FAIL: ' + m); failures++; };
const sleep = ms => new Promise(r => setTimeout(r, ms));
const api = async path => {
  const r = await fetch(BASE + path, { headers: { Authorization: 'Bearer ' + TOKEN } });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
};
const int = s => Number(String(s).replace(/,/g, ''));
// Until check() returns true (it may throw), at most secs: the UI polls every second, the API
// moves while the pipeline runs, so "equal" means "equal once both look at the same state".
async function until(what, secs, check) {
  let last = '';
  for (const end = Date.now() + secs * 1000; Date.now() < end;) {
    try { const r = await check(); if (r === true) { ok(what); return true; } last = String(r); } catch (e) { last = e.message; }
    await sleep(300);
  }
  fail(`${what} (${last})`);
  return false;
}
async function shot(page, name, fullPage = false) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage });
}

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
const page = await ctx.newPage();
const errors = [];
page.on('pageerror', e => errors.push(e.message));
page.on('console', m => { if (/Content Security Policy/i.test(m.text())) errors.push(m.text()); });
const go = async name => { await page.goto(`${BASE}/console/?interval=1000#/${name}`); };

try {
  // ---- assets: content types, ETag revalidation, no token needed
  for (const [path, type] of [['/console/', 'text/html'], ['/console/app.js', 'text/javascript'], ['/console/app.css', 'text/css']]) {
    const r = await fetch(BASE + path);
    const et = r.headers.get('etag');
    const r2 = await fetch(BASE + path, { headers: { 'If-None-Match': et } });
    if (r.status === 200 && r.headers.get('content-type').startsWith(type) && et && r2.status === 304) ok(`${path}: 200 ${type}, 304 with its ETag`);
    else fail(`${path}: ${r.status} ${r.headers.get('content-type')} etag ${et} then ${r2.status}`);
  }
  {
    const gz = await fetch(BASE + '/console/app.js', { headers: { 'Accept-Encoding': 'gzip' } });
    const plain = await fetch(BASE + '/console/app.js', { headers: { 'Accept-Encoding': 'identity' } });
    const a = await gz.text(), b = await plain.text();
    gz.headers.get('content-encoding') === 'gzip' && !plain.headers.get('content-encoding') && a === b && a.length > 1000
      ? ok('app.js gzip-compressed for clients that accept it, the same text') : fail('gzip: ' + gz.headers.get('content-encoding'));
  }
  const r401 = await fetch(BASE + '/api/v1/console/stats');
  r401.status === 401 ? ok('data endpoints need the token') : fail(`/api/v1/console/stats without a token: ${r401.status}`);

  // ---- login: the prompt appears, a wrong token is refused, the right one opens the console
  await go('pipeline');
  await page.waitForSelector('#login[open]', { timeout: 10000 });
  ok('login prompt on 401');
  await shot(page, 'login');
  await page.fill('#login-token', 'not-a-token');
  await page.click('#login-submit');
  await until('a wrong token is refused', 10, async () =>
    (await page.isVisible('#login[open]')) && /refused/.test(await page.textContent('#login-error')) || 'no refusal shown');
  await page.fill('#login-token', TOKEN);
  await page.click('#login-submit');
  await page.waitForSelector('#login[open]', { state: 'hidden', timeout: 10000 });
  await page.waitForSelector('.node[data-component]', { timeout: 10000 });
  const stored = await page.evaluate(() => sessionStorage.getItem('sluice.token'));
  stored === TOKEN ? ok('token kept in sessionStorage') : fail('token not in sessionStorage');

  // ---- Pipeline: every component of the API is a node; its chart grows while events flow
  const pipe = await api('/api/v1/pipeline');
  const names = await page.$$eval('.node[data-component]', ns => ns.map(n => n.dataset.component));
  const want = pipe.components.map(c => c.name);
  want.every(n => names.includes(n)) && names.length === want.length ? ok(`DAG shows the ${want.length} components`) : fail(`nodes ${names} vs ${want}`);
  const edges = await page.$$eval('.dag path.edge', e => e.length);
  const nedges = pipe.components.reduce((a, c) => a + c.inputs.length, 0);
  edges === nedges ? ok(`DAG has the ${nedges} edges`) : fail(`edges ${edges}, want ${nedges}`);
  await page.click(`.node[data-component="prof"]`);
  await page.waitForSelector('[data-chart="component-rate"][data-points]', { timeout: 10000 });
  const p0 = int(await page.getAttribute('[data-chart="component-rate"]', 'data-points'));
  await until('the rate chart grows over time', 10, async () => {
    const p1 = int(await page.getAttribute('[data-chart="component-rate"]', 'data-points'));
    return p1 >= p0 + 2 || `points ${p0} -> ${p1}`;
  });
  await shot(page, 'pipeline'); /* while events flow */
  const gen = pipe.components.find(c => c.name === GEN);
  if (gen && COUNT) {
    await until(`${GEN} has emitted its ${COUNT} events`, 60, async () => (await api('/api/v1/pipeline')).components.find(c => c.name === GEN).events_out === COUNT || 'running');
  }
  await until('every node shows the API\'s events_out and errors', 20, async () => {
    const j = await api('/api/v1/pipeline');
    const dom = await page.$$eval('.node[data-component]', ns => ns.map(n => ({
      name: n.dataset.component,
      out: n.querySelector('[data-field="events_out"]').textContent,
      err: n.querySelector('[data-field="errors"]').textContent,
    })));
    const bad = j.components.filter(c => { const d = dom.find(x => x.name === c.name); return !d || int(d.out) !== c.events_out || int(d.err) !== c.errors; });
    return bad.length === 0 || 'differ: ' + bad.map(c => c.name).join(',');
  });
  await until('the detail panel shows the API\'s counters of prof', 10, async () => {
    const c = (await api('/api/v1/pipeline')).components.find(x => x.name === 'prof');
    for (const f of ['events_in', 'events_out', 'errors', 'dropped'])
      if (int(await page.textContent(`.detail [data-field="${f}"]`)) !== c[f]) return f + ' differs';
    return true;
  });
  await until('prof\'s recent output samples are the API\'s', 10, async () => {
    const s = await api('/api/v1/console/samples/prof');
    const shown = await page.$$eval('.sample-list.output pre', ps => ps.map(p => JSON.parse(p.textContent)));
    return s.output.length > 0 && shown.length === s.output.length &&
      JSON.stringify(shown) === JSON.stringify(s.output.map(x => x.event)) || `${shown.length} shown, ${s.output.length} in the API`;
  });
  const dead = (await api('/api/v1/pipeline')).components.find(c => c.name === 'web_anomaly');
  if (dead && dead.errors) {
    await page.click(`.node[data-component="web_anomaly"]`);
    await until('web_anomaly\'s dead letters are listed', 10, async () => {
      const s = await api('/api/v1/console/samples/web_anomaly');
      const shown = await page.$$eval('.sample-list.errors pre', ps => ps.map(p => p.textContent));
      return s.errors.length > 0 && shown.length === s.errors.length && shown[0].includes('pattern does not match') || `${shown.length} vs ${s.errors.length}`;
    });
  }

  // ---- Profiles: the store's profiles and entities, a chart per entity, queries
  // the store's writer runs behind the profiler: wait until two looks 2.5 s apart agree (more
  // than the 2 s period, whose closing writes measurements; one second apart could fall between)
  let prev = '';
  await until('the profile store has stopped changing', 30, async () => {
    const now = JSON.stringify((await api('/api/v1/profiles')).profiles);
    const same = now === prev;
    prev = now;
    if (!same) await sleep(2500);
    return same || 'changing';
  });
  await go('profiles');
  const prof = await api('/api/v1/profiles');
  await until('profiles listed as the API has them', 10, async () => {
    const shown = await page.$$eval('.list.profiles [data-profile]', a => a.map(x => x.dataset.profile));
    return JSON.stringify(shown) === JSON.stringify(prof.profiles.map(p => p.profile)) || shown.join(',');
  });
  const first = prof.profiles[0].profile;
  await until(`the entities of ${first} with their measurement counts`, 15, async () => {
    /* the API again each time (a period closing after the quiet look above adds a measurement);
       15 s: the page reloads the list every 10 s */
    const ents = await api('/api/v1/profiles/' + encodeURIComponent(first));
    const shown = await page.$$eval('.list.entities [data-entity]', a => a.map(x => [x.dataset.entity, Number(x.dataset.measurements)]));
    if (shown.length !== ents.entities.length) return `${shown.length} shown, ${ents.entities.length} in the API`;
    const i = ents.entities.findIndex((e, i) => shown[i][0] !== e.entity || shown[i][1] !== e.measurements);
    return i < 0 || `row ${i}: ${shown[i]} shown, ${ents.entities[i].entity},${ents.entities[i].measurements} in the API`;
  });
  // an entity whose measurements have several groups (bytes is grouped by proto)
  let ent = null, series = null, gprof = null;
  for (const p of prof.profiles) {
    for (const e of (await api('/api/v1/profiles/' + encodeURIComponent(p.profile))).entities.slice(0, 40)) {
      const r = await api(`/api/v1/profiles/${encodeURIComponent(p.profile)}/${encodeURIComponent(e.entity)}`);
      if (new Set(r.measurements.map(m => JSON.stringify(m.groups))).size > 1) { gprof = p.profile; ent = e.entity; series = r; break; }
    }
    if (ent) break;
  }
  if (!ent) throw new Error('no entity with several groups');
  await page.click(`.list.profiles [data-profile="${gprof}"]`);
  await page.click(`.list.entities [data-entity="${ent}"]`);
  const groups = [...new Set(series.measurements.map(m => JSON.stringify(m.groups)))];
  for (const gl of [groups[0], groups[groups.length - 1]]) {
    if (gl !== groups[0]) await page.selectOption('select.groups', gl);
    const n = series.measurements.filter(m => JSON.stringify(m.groups) === gl).length;
    await until(`the chart of ${ent}, groups ${gl}: its ${n} periods`, 10, async () =>
      int(await page.getAttribute('[data-chart="profile"]', 'data-points')) === n || 'points differ');
  }
  await page.selectOption('#query-lang', 'sql');
  await page.fill('#query-text', 'SELECT count(*) AS n FROM measurements');
  await until('a SQL query against the store: the table shows the API\'s answer', 10, async () => {
    await page.click('#query-run'); /* again each time: the store may still be growing */
    await page.waitForSelector('#query-result table.result');
    const q = await api('/api/v1/console/query?lang=sql&q=' + encodeURIComponent('SELECT count(*) AS n FROM measurements'));
    const cell = await page.textContent('#query-result table.result tbody td');
    const head = await page.textContent('#query-result table.result th');
    return head === 'n' && int(cell) === q.rows[0][0] && q.rows[0][0] > 0 || `${head}=${cell} vs ${JSON.stringify(q.rows)}`;
  });
  const expr = `PROFILE_GET('conns', '${ent}', PROFILE_FIXED(1, 'HOURS', {'profiler.client.period.duration': 2, 'profiler.client.period.duration.units': 'SECONDS'}))`;
  await page.selectOption('#query-lang', 'stellar');
  await page.fill('#query-text', expr);
  await until('a Stellar PROFILE_GET: one row per value, as the API answers', 10, async () => {
    await page.click('#query-run');
    await page.waitForSelector('#query-result table.result');
    const q = await api('/api/v1/console/query?lang=stellar&q=' + encodeURIComponent(expr));
    const cells = await page.$$eval('#query-result table.result tbody tr td:nth-child(2)', t => t.map(x => x.textContent));
    return Array.isArray(q.result) && q.result.length > 0 && JSON.stringify(cells.map(Number)) === JSON.stringify(q.result) || `${cells} vs ${JSON.stringify(q.result)}`;
  });
  await page.fill('#query-text', '1 +');
  await page.click('#query-run');
  await until('a bad expression shows its error', 10, async () => /expected/.test(await page.textContent('#query-result')) || 'no error');
  await page.fill('#query-text', expr);
  await page.click('#query-run');
  await sleep(800);
  await shot(page, 'profiles');

  // ---- Partout: Em and agents as the API has them, loudest first
  await go('partout');
  const agents = await api('/api/v1/partout/agents');
  await until(`the ${agents.length} agents, loudest first`, 10, async () => {
    const rows = await page.$$eval('table.agents-table tbody tr', r => r.map(x => [...x.children].map(td => td.textContent)));
    const want = [...agents].sort((a, b) => b.count - a.count || a.agent.localeCompare(b.agent));
    return rows.length === want.length && want.every((a, i) => rows[i][0] === a.agent && int(rows[i][5]) === a.count && int(rows[i][2]) === a.level && int(rows[i][3]) === a.told_period_secs) || `${rows.length} rows`;
  });
  const loud = await page.getAttribute('.bar-row', 'data-agent');
  const top = [...agents].sort((a, b) => b.count - a.count)[0];
  loud === top.agent ? ok('the loudest agent heads the bars') : fail(`loudest ${loud}, want ${top.agent}`);
  await until('Em and the agent count are the master\'s', 10, async () => {
    const st = (await api('/api/v1/console/stats')).components.find(c => c.type === 'partout').stats;
    const em = int(await page.textContent('[data-field="em"]'));
    const n = int(await page.textContent('[data-field="agents"]'));
    const want = st.sluice_partout_events_per_minute;
    return n === st.sluice_partout_agents && Math.abs(em - want) <= Math.max(1, want * 0.005) || `Em ${em} vs ${want}, agents ${n}`;
  });
  const e0 = int(await page.getAttribute('[data-chart="em"]', 'data-points'));
  await until('the Em chart grows', 10, async () => int(await page.getAttribute('[data-chart="em"]', 'data-points')) >= e0 + 2 || 'no new points');
  await page.reload();
  await page.waitForSelector('[data-chart="em"][data-points]', { timeout: 10000 });
  const hist = await api('/api/v1/console/history');
  const hp = int(await page.getAttribute('[data-chart="em"]', 'data-points'));
  hist.points.length >= 5 && hp >= hist.points.length - 1
    ? ok(`after a reload the Em chart starts with the server's history (${hp} points)`)
    : fail(`after a reload: ${hp} points, history ${hist.points.length}`);
  await page.click(`table.agents-table [data-agent="${top.agent}"]`);
  await until(`a click on ${top.agent} charts its counts over time`, 10, async () => {
    const r = await api(`/api/v1/partout/agents/${encodeURIComponent(top.agent)}?level=2`);
    const times = new Set(r.series.map(x => x.at_ms)).size;
    const pts = int(await page.getAttribute('[data-chart="agent"]', 'data-points'));
    return times > 0 && pts === times && r.total === top.count || `${pts} points, ${times} in the API`;
  });
  await shot(page, 'partout', true);

  // ---- Anomalies: the k-means scores of the samples, highest first
  await go('anomalies');
  await until('k-means scores ranked as the samples have them', 15, async () => {
    const s = await api('/api/v1/console/samples/web_anomaly');
    const want = s.output.map(x => x.event).sort((a, b) => b.score - a.score);
    const shown = await page.$$eval('table.scores tbody tr', r => r.map(x => [x.children[1].textContent, Number(x.querySelector('[data-score]').dataset.score)]));
    return want.length > 0 && shown.length === want.length && shown.every((r, i) => r[1] === want[i].score) &&
      shown[0][0] === String(want[0].key) || `${shown.length} rows vs ${want.length}`;
  });
  const topKey = await page.textContent('table.scores tbody tr td:nth-child(2)');
  topKey === '10.9.9.9' ? ok('the flooding client tops the anomalies') : fail(`top anomaly ${topKey}`);
  await shot(page, 'anomalies');

  // ---- Aggregator: files written, uploads, spool as the components report them
  await go('aggregator');
  await until('files written, uploads and spool are the API\'s', 30, async () => {
    const st = (await api('/api/v1/console/stats')).components;
    const s = (type, k) => st.filter(c => c.type === type).reduce((a, c) => a + (c.stats[k] || 0), 0);
    const get = async f => int(await page.textContent(`[data-field="${f}"]`));
    const w = s('parquet', 'sluice_parquet_files_finished_total'), u = s('receiver', 'sluice_receiver_uploaded_files_total');
    return w > 0 && u === w && await get('files_written') === w && await get('uploads') === u &&
      await get('spool_files') === s('receiver', 'sluice_receiver_spool_files') || `written ${w}, uploaded ${u}`;
  });
  await until('collectors and command deliveries are the API\'s', 10, async () => {
    const st = (await api('/api/v1/console/stats')).components.find(c => c.type === 'commands').stats;
    const get = async f => int(await page.textContent(`[data-field="${f}"]`));
    return st.sluice_commands_collectors === 3 && await get('collectors') === 3 &&
      await get('deliveries') === st.sluice_commands_deliveries_total && st.sluice_commands_deliveries_total === 3 &&
      await get('pings') === st.sluice_commands_pings_total || JSON.stringify(st);
  });
  await page.waitForSelector('[data-chart="files"][data-points]');
  await shot(page, 'aggregator');

  errors.length ? fail('page errors: ' + errors.join('; ')) : ok('no script errors, no CSP violations');
} catch (e) {
  fail(e.stack || e.message);
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
