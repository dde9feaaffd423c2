// Pipeline: the DAG with live rates, queue fill and errors per component; a click opens its
// counters, a rate chart and the recent samples of its output and errors.
import { h, set, num, message } from '../dom.js';
import { api } from '../api.js';
import { latest, rate, series, rateOf, comp } from '../history.js';
import { lineChart } from '../chart.js';

const W = 230, HGT = 96, GX = 70, GY = 24;

function layout(comps) {
  const byName = new Map(comps.map(c => [c.name, c]));
  const depth = new Map();
  const d = (c, seen = new Set()) => {
    if (depth.has(c.name)) return depth.get(c.name);
    if (seen.has(c.name)) return 0;
    seen.add(c.name);
    let v = 0;
    for (const i of c.inputs) {
      const up = byName.get(i.split('.')[0]);
      if (up) v = Math.max(v, d(up, seen) + 1);
    }
    depth.set(c.name, v);
    return v;
  };
  comps.forEach(c => d(c));
  // a sink fed through a side channel (the receiver takes the parquet sink's files) goes last
  const last = Math.max(0, ...depth.values());
  for (const c of comps) if (c.kind === 'sink' && !c.inputs.length) depth.set(c.name, Math.max(1, last));
  const cols = [];
  for (const c of comps) (cols[depth.get(c.name)] ||= []).push(c);
  const pos = new Map();
  cols.forEach((col, x) => col.forEach((c, y) => pos.set(c.name, { x: x * (W + GX), y: y * (HGT + GY) })));
  const width = cols.length * (W + GX) - GX;
  const height = Math.max(...cols.map(c => c.length)) * (HGT + GY) - GY;
  return { pos, width, height };
}

export default function mount(root) {
  const graph = h('div.dag');
  const detail = h('section.detail');
  root.append(h('h1', 'Pipeline'), graph, detail);
  let selected = null, chart = null, shape = '';

  function select(name) {
    selected = name;
    if (chart) chart.destroy();
    chart = null;
    set(detail);
    update();
  }

  function drawGraph(snap) {
    const comps = snap.pipeline.components;
    const key = comps.map(c => c.name + ':' + c.inputs.join(',')).join(';');
    if (key !== shape) {
      shape = key;
      const { pos, width, height } = layout(comps);
      const ns = 'http://www.w3.org/2000/svg';
      const svg = document.createElementNS(ns, 'svg');
      svg.setAttribute('width', width);
      svg.setAttribute('height', height);
      for (const c of comps) for (const i of c.inputs) {
        const [from, port] = i.split('.');
        const a = pos.get(from), b = pos.get(c.name);
        if (!a || !b) continue;
        const p = document.createElementNS(ns, 'path');
        const x1 = a.x + W, y1 = a.y + HGT / 2, x2 = b.x, y2 = b.y + HGT / 2;
        p.setAttribute('d', `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`);
        p.setAttribute('class', port === 'errors' ? 'edge err' : 'edge');
        svg.append(p);
      }
      set(graph, svg);
      graph.style.width = width + 'px';
      graph.style.height = height + 'px';
      for (const c of comps) {
        const p = pos.get(c.name);
        const node = h('div.node.' + c.kind, {
          dataset: { component: c.name }, style: `left:${p.x}px;top:${p.y}px;width:${W}px;height:${HGT}px`,
          onclick: () => select(c.name),
        });
        graph.append(node);
      }
    }
    for (const c of comps) {
      const node = graph.querySelector(`[data-component="${CSS.escape(c.name)}"]`);
      node.classList.toggle('selected', c.name === selected);
      node.classList.toggle('has-errors', c.errors > 0);
      const fill = c.queue_capacity ? c.queue_depth / c.queue_capacity : null;
      set(node, 
        h('div.title', c.name, h('span.type', `${c.type} ${c.kind}`)),
        h('div.rates',
          h('span', { title: 'events in per second' }, '▸ ', h('b', { dataset: { field: 'rate_in' } }, num(Math.round(rate(c.name, 'events_in')))), '/s'),
          h('span', { title: 'events out per second' }, ' ▹ ', h('b', { dataset: { field: 'rate_out' } }, num(Math.round(rate(c.name, 'events_out')))), '/s')),
        h('div.counts',
          h('span', 'out ', h('b', { dataset: { field: 'events_out' } }, num(c.events_out))),
          h('span' + (c.errors ? '.bad' : ''), ' err ', h('b', { dataset: { field: 'errors' } }, num(c.errors)))),
        fill == null ? null : h('div.queue', { title: `queue ${c.queue_depth}/${c.queue_capacity} batches` },
          h('div.fill', { style: `width:${Math.round(fill * 100)}%` }))
      );
    }
  }

  async function drawDetail(snap) {
    const c = comp(snap, selected);
    if (!c) return;
    if (!detail.firstChild) {
      detail.append(h('h2', c.name, h('span.type', ` ${c.type} ${c.kind}`)), h('div.counters'), h('div.chart-slot'),
        h('div.samples'));
      chart = lineChart(detail.querySelector('.chart-slot'), {
        title: 'events per second', series: ['in', 'out', 'errors'], name: 'component-rate',
      });
    }
    const fields = ['events_in', 'events_out', 'errors', 'dropped', 'bytes_in', 'bytes_out'];
    if (c.queue_capacity) fields.push('queue_depth', 'queue_capacity');
    set(detail.querySelector('.counters'), h('dl.kv', fields.map(f => [
      h('dt', f), h('dd', { dataset: { field: f } }, num(c[f]))])));
    const g = f => s => (comp(s, selected) || {})[f];
    chart.set(series(rateOf(g('events_in')), rateOf(g('events_out')), rateOf(g('errors'))));
    let sm;
    try {
      sm = await api('/api/v1/console/samples/' + encodeURIComponent(selected));
    } catch (e) {
      set(detail.querySelector('.samples'), message(e.message, 'error'));
      return;
    }
    const list = (title, items, cls) => h('div.sample-list.' + cls,
      h('h3', title, h('span.muted', ` (${items.length} kept)`)),
      items.length ? items.map(it => h('pre', { dataset: { at: it.at_ms } }, JSON.stringify(it.event)))
        : message('none yet'));
    set(detail.querySelector('.samples'), sm.enabled
      ? h('div.cols', list('Recent output', sm.output, 'output'), list('Recent errors (dead letters)', sm.errors, 'errors'))
      : message('Samples are off: set api: {samples: 20} in the config to keep the last events of each component.'));
  }

  async function update() {
    const snap = latest();
    if (!snap) return;
    drawGraph(snap);
    if (selected) await drawDetail(snap);
    else if (!detail.firstChild) detail.append(message('Click a component for its counters, rates and recent samples.'));
  }

  return { update, unmount() { if (chart) chart.destroy(); } };
}
