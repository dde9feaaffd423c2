// Profiles: the profile store's profiles and entities, an entity's measurements over time
// against the baseline (the mean of the profile's other entities, period by period), and a
// Stellar expression or a read-only SQL query against the store, shown as a table.
import { h, set, num, ago, table, message } from '../dom.js';
import { api } from '../api.js';
import { lineChart } from '../chart.js';

const BASELINE_ENTITIES = 20;

function numeric(v) {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object') for (const k of ['mean', 'count', 'value', 'n']) if (typeof v[k] === 'number') return v[k];
  return null;
}

// Any JSON value as columns and rows.
export function tabulate(v) {
  if (Array.isArray(v)) {
    if (v.length && v.every(x => x && typeof x === 'object' && !Array.isArray(x))) {
      const cols = [...new Set(v.flatMap(Object.keys))];
      return { cols, rows: v.map(x => cols.map(c => cell(x[c]))) };
    }
    return { cols: ['#', 'value'], rows: v.map((x, i) => [i, cell(x)]) };
  }
  if (v && typeof v === 'object') return { cols: ['key', 'value'], rows: Object.entries(v).map(([k, x]) => [k, cell(x)]) };
  return { cols: ['value'], rows: [[cell(v)]] };
}
const cell = x => x === null || x === undefined ? 'null' : typeof x === 'object' ? JSON.stringify(x) : x;

export default function mount(root) {
  const plist = h('div.list.profiles'), elist = h('div.list.entities'), view = h('div.entity-view');
  const qlang = h('select#query-lang', h('option', { value: 'stellar' }, 'Stellar'), h('option', { value: 'sql' }, 'SQL'));
  const qtext = h('textarea#query-text', { rows: 3, spellcheck: 'false', placeholder: "PROFILE_GET('flows', '10.0.0.1', PROFILE_FIXED(1, 'HOURS'))   or   SELECT * FROM ..." });
  const qout = h('div#query-result');
  const run = h('button#query-run', { onclick: () => runQuery() }, 'Run');
  root.append(h('h1', 'Profiles'), h('div.cols3', plist, elist, view),
    h('section.query', h('h2', 'Query the store'), h('div.qbar', qlang, qtext, run), qout));
  let profile = null, entity = null, group = null, chart = null, loadedAt = 0;

  async function runQuery() {
    set(qout, message('running…'));
    try {
      const r = await api(`/api/v1/console/query?lang=${qlang.value}&q=${encodeURIComponent(qtext.value)}`);
      const t = r.lang === 'sql' ? { cols: r.columns, rows: r.rows.map(x => x.map(cell)) } : tabulate(r.result);
      set(qout, table(t.cols, t.rows, { class: 'result' }),
        r.truncated ? message('truncated: more rows than shown') : null);
    } catch (e) {
      set(qout, message(e.message, 'error'));
    }
  }

  async function showProfiles() {
    let r;
    try { r = await api('/api/v1/profiles'); } catch (e) {
      set(plist, message(e.message, 'error'));
      return;
    }
    set(plist, h('h3', `Profiles (${r.profiles.length})`), h('p.muted', r.store),
      r.profiles.map(p => h('a.item' + (p.profile === profile ? '.active' : ''), {
        role: 'button', tabindex: '0', dataset: { profile: p.profile }, onclick: () => { profile = p.profile; entity = null; refresh(); },
      }, h('b', p.profile), h('span.muted', ` ${num(p.entities)} entities · ${num(p.measurements)} values`))));
    if (!profile && r.profiles.length) profile = r.profiles[0].profile;
  }

  async function showEntities() {
    if (!profile) return [];
    const r = await api('/api/v1/profiles/' + encodeURIComponent(profile));
    set(elist, h('h3', `${profile}: entities (${r.entities.length})`),
      r.entities.map(e => h('a.item' + (e.entity === entity ? '.active' : ''), {
        role: 'button', tabindex: '0', dataset: { entity: e.entity, measurements: e.measurements },
        onclick: () => { entity = e.entity; refresh(); },
      }, h('b', e.entity), h('span.muted', ` ${num(e.measurements)} · ${ago(e.last_ms)}`))));
    if (!entity && r.entities.length) entity = r.entities[0].entity;
    return r.entities;
  }

  async function showEntity(entities) {
    if (!profile || !entity) { set(view, message('No entity yet.')); return; }
    const path = p => `/api/v1/profiles/${encodeURIComponent(profile)}/${encodeURIComponent(p)}`;
    const mine = await api(path(entity));
    const others = entities.filter(e => e.entity !== entity).slice(0, BASELINE_ENTITIES);
    const theirs = await Promise.all(others.map(e => api(path(e.entity))));
    const groups = [...new Set(mine.measurements.map(m => JSON.stringify(m.groups)))];
    if (!groups.includes(group)) group = groups[0];
    const g = group;
    const pick = ms => ms.filter(m => JSON.stringify(m.groups) === g);
    const byStart = new Map();
    for (const r of theirs) for (const m of pick(r.measurements)) {
      const v = numeric(m.value);
      if (v == null) continue;
      const a = byStart.get(m.start_ms) || [0, 0];
      byStart.set(m.start_ms, [a[0] + v, a[1] + 1]);
    }
    const own = pick(mine.measurements);
    const xs = own.map(m => m.start_ms / 1000);
    const ys = own.map(m => numeric(m.value));
    const base = own.map(m => { const a = byStart.get(m.start_ms); return a ? a[0] / a[1] : null; });
    const pickGroup = groups.length > 1 ? h('select.groups', { onchange: ev => { group = ev.target.value; refresh(); } },
      groups.map(x => h('option', x === g ? { value: x, selected: true } : { value: x }, 'groups ' + x))) : null;
    set(view, h('h3', `${entity} in ${profile} `, pickGroup));
    if (chart) chart.destroy();
    chart = lineChart(view, { title: 'value per period', series: [entity, `baseline (mean of ${theirs.length})`], name: 'profile' });
    chart.set([xs, ys, base]);
    const last = own.slice(-12).reverse();
    view.append(table(['period start', 'type', 'value', 'baseline'], last.map(m => {
      const a = byStart.get(m.start_ms);
      return [new Date(m.start_ms).toISOString().replace('T', ' ').slice(0, 19), m.type,
        typeof m.value === 'object' ? JSON.stringify(m.value) : m.value, a ? num(a[0] / a[1]) : '–'];
    }), { class: 'measurements' }));
  }

  async function refresh() {
    loadedAt = Date.now();
    await showProfiles();
    try {
      const entities = await showEntities();
      await showEntity(entities);
    } catch (e) {
      set(view, message(e.message, 'error'));
    }
  }

  return {
    async update() { if (Date.now() - loadedAt > 10000) await refresh(); },
    unmount() { if (chart) chart.destroy(); },
  };
}
