// Partout: the master's Em (events per minute) over time and its agents with the level and
// period it last told them, loudest first.
import { h, set, num, ago, table, card, message } from '../dom.js';
import { api } from '../api.js';
import { latest, series, stat } from '../history.js';
import { lineChart } from '../chart.js';

const EM = 'sluice_partout_events_per_minute', AGENTS = 'sluice_partout_agents';
const LEVELS = ['alive only', 'by agent', 'by module', 'by object', 'full detail'];

export default function mount(root) {
  const cards = h('div.cards'), charts = h('div.chart-row'), loud = h('section.loudest'), agents = h('section.agents');
  const detail = h('section.agent-detail');
  root.append(h('h1', 'Partout'), cards, charts, loud, agents, detail);
  let chart = null, agentChart = null, selected = null, shownAt = 0;

  // An agent's counts per module over time (its store series at level 2), five loudest modules.
  async function showAgent(uuid) {
    selected = uuid;
    shownAt = Date.now();
    let r;
    try { r = await api('/api/v1/partout/agents/' + encodeURIComponent(uuid) + '?level=2'); } catch (e) {
      set(detail, message(e.message, 'error'));
      return;
    }
    const times = [...new Set(r.series.map(x => x.at_ms))].sort((a, b) => a - b);
    const byMod = new Map();
    for (const x of r.series) byMod.set(x.module ?? '', (byMod.get(x.module ?? '') || 0) + x.count);
    const mods = [...byMod.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map(e => e[0]);
    const col = m => times.map(t => r.series.filter(x => x.at_ms === t && (x.module ?? '') === m).reduce((a, x) => a + x.count, null));
    const total = times.map(t => r.series.filter(x => x.at_ms === t).reduce((a, x) => a + x.count, 0));
    if (agentChart) agentChart.destroy();
    set(detail, h('h2', `Agent ${uuid}`, h('span.muted', ` ${num(r.total)} counted, ${times.length} points`)));
    agentChart = lineChart(detail, { title: 'counts per aggregate', series: ['total', ...mods.map(m => m || '(none)')], name: 'agent' });
    agentChart.set([times.map(t => t / 1000), total, ...mods.map(col)]);
  }

  async function update() {
    const snap = latest();
    if (!snap) return;
    const masters = snap.pipeline.components.filter(c => c.type === 'partout' && c.kind === 'source');
    if (!masters.length) {
      set(cards, message('No partout source in this pipeline.'));
      return;
    }
    const m = masters[0].name;
    set(cards, 
      card('Em (events per minute)', h('span', { dataset: { field: 'em' } }, num(stat(snap, m, EM)))),
      card('agents in the window', h('span', { dataset: { field: 'agents' } }, num(stat(snap, m, AGENTS)))),
      card('aggregates accepted', h('span', { dataset: { field: 'aggregates' } }, num(stat(snap, m, 'sluice_partout_aggregates')))),
      card('counts accepted', h('span', { dataset: { field: 'counts' } }, num(stat(snap, m, 'sluice_partout_counts')))));
    if (!chart) chart = lineChart(charts, { title: `Em of ${m}`, series: ['Em', 'agents'], name: 'em' });
    chart.set(series(s => stat(s, m, EM), s => stat(s, m, AGENTS)));
    let list;
    try {
      list = await api('/api/v1/partout/agents');
    } catch (e) {
      set(agents, message(e.message, e.status === 503 ? 'note' : 'error'));
      set(loud, );
      return;
    }
    list.sort((a, b) => b.count - a.count || a.agent.localeCompare(b.agent));
    const max = list.length ? list[0].count || 1 : 1;
    set(loud, h('h2', 'Loudest agents'), list.slice(0, 10).map(a => h('div.bar-row', { dataset: { agent: a.agent } },
      h('span.bar-label', a.hostname || a.agent), h('div.bar', h('div.fill', { style: `width:${(100 * a.count / max).toFixed(1)}%` })),
      h('span.bar-value', num(a.count)))));
    set(agents, h('h2', `Agents (${list.length})`), table(
      ['agent', 'host', 'level', 'period told (s)', 'last period (s)', 'count', 'aggregates', 'last seen'],
      list.map(a => [h('a', { role: 'button', tabindex: '0', dataset: { agent: a.agent }, onclick: () => showAgent(a.agent) }, a.agent), a.hostname, h('span', { title: LEVELS[a.level] || '' }, String(a.level)), num(a.told_period_secs),
        num(a.period_secs), num(a.count), num(a.aggregates), ago(a.last_ms)]), { class: 'agents-table' }));
  }

  const refresh = async () => { await update(); if (selected && Date.now() - shownAt > 10000) await showAgent(selected); };
  return { update: refresh, unmount() { if (chart) chart.destroy(); if (agentChart) agentChart.destroy(); } };
}
