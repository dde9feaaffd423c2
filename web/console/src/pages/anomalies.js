// Anomalies: the scores the k-means transforms (dataShark's use cases) gave, highest first,
// with the features behind them. The data are the transforms' recent output samples
// (`api: {samples: N}`), so the list is the last N windows' scores of each transform.
import { h, set, num, table, message } from '../dom.js';
import { api } from '../api.js';
import { latest } from '../history.js';

function flat(prefix, v, out) {
  if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) flat(prefix ? `${prefix}.${k}` : k, x, out);
  else out[prefix] = v;
  return out;
}

export default function mount(root) {
  const body = h('div');
  root.append(h('h1', 'Anomalies'), body);

  async function update() {
    const snap = latest();
    if (!snap) return;
    const km = snap.pipeline.components.filter(c => c.type === 'kmeans');
    if (!km.length) { set(body, message('No kmeans transform in this pipeline.')); return; }
    const parts = [];
    for (const c of km) {
      let sm;
      try { sm = await api('/api/v1/console/samples/' + encodeURIComponent(c.name)); } catch (e) {
        parts.push(message(e.message, 'error'));
        continue;
      }
      if (!sm.enabled) {
        parts.push(h('h2', c.name), message('Samples are off: set api: {samples: 50} in the config to rank this transform\'s scores here.'));
        continue;
      }
      const rows = sm.output.map(s => s.event).filter(e => typeof e.score === 'number');
      rows.sort((a, b) => b.score - a.score);
      const feats = [...new Set(rows.flatMap(e => Object.keys(flat('', e.metadata || {}, {}))))];
      parts.push(h('h2', c.name, h('span.muted', ` ${rows.length} scored keys sampled of ${num(c.events_out)} records`)),
        rows.length ? table(['#', 'key', 'score', ...feats, 'window'], rows.map((e, i) => {
          const f = flat('', e.metadata || {}, {});
          return [i + 1, typeof e.key === 'object' ? JSON.stringify(e.key) : e.key,
            h('b' + (e.anomaly ? '.bad' : ''), { dataset: { score: e.score } }, num(e.score)),
            ...feats.map(k => f[k] === undefined ? '' : typeof f[k] === 'number' ? num(f[k]) : String(f[k])),
            e.window_start ? String(e.window_start).slice(0, 19) : ''];
        }), { class: 'scores', dataset: { component: c.name } }) : message('No scores yet: a window has not closed.'));
    }
    set(body, ...parts);
  }

  return { update };
}
