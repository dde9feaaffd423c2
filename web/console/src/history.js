// The console's memory of the pipeline: /api/v1/pipeline and /api/v1/console/stats fetched
// every interval, the last KEEP snapshots kept, so every chart has a history to draw and
// rates come from the difference of two counters.
import { api } from './api.js';

const KEEP = 600;
export const snaps = []; // {t (s), pipeline, stats}

export async function poll() {
  const [pipeline, stats] = await Promise.all([api('/api/v1/pipeline'), api('/api/v1/console/stats')]);
  const s = { t: Date.now() / 1000, pipeline, stats };
  snaps.push(s);
  if (snaps.length > KEEP) snaps.shift();
  return s;
}

// The server's last ten minutes (/api/v1/console/history), once at start: charts open with
// a past. Its points carry counters and metrics by name, which is all the charts read.
export async function seed() {
  const h = await api('/api/v1/console/history');
  const first = snaps.length ? snaps[0].t : Infinity;
  const past = h.points.filter(p => p.t_ms / 1000 < first - 0.5).map(p => ({
    t: p.t_ms / 1000,
    pipeline: { components: p.components },
    stats: { components: p.components.map(c => ({ name: c.name, stats: c.stats })) },
  }));
  snaps.unshift(...past.slice(-(KEEP - snaps.length)));
}

export function latest() { return snaps[snaps.length - 1]; }

export function comp(snap, name) {
  return snap.pipeline.components.find(c => c.name === name);
}

export function stat(snap, name, key) {
  const c = snap.stats.components.find(x => x.name === name);
  return c ? c.stats[key] : undefined;
}

// Per second between the last two snapshots (0 until there are two).
export function rate(name, field) {
  if (snaps.length < 2) return 0;
  const a = snaps[snaps.length - 2], b = snaps[snaps.length - 1];
  const ca = comp(a, name), cb = comp(b, name);
  if (!ca || !cb || b.t <= a.t) return 0;
  return Math.max(0, (cb[field] - ca[field]) / (b.t - a.t));
}

// [times, ...one array per fn(snap, prev)] over the history, for uPlot.
export function series(...fns) {
  const out = [[], ...fns.map(() => [])];
  for (let i = 0; i < snaps.length; i++) {
    out[0].push(snaps[i].t);
    fns.forEach((f, k) => out[k + 1].push(f(snaps[i], i ? snaps[i - 1] : null) ?? null));
  }
  return out;
}

// A counter's rate per second from one snapshot to the next.
export function rateOf(get) {
  return (s, p) => {
    if (!p) return null;
    const a = get(p), b = get(s);
    return a == null || b == null || s.t <= p.t ? null : Math.max(0, (b - a) / (s.t - p.t));
  };
}
