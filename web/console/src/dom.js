// A tiny element builder: h('div.card', {onclick}, child, 'text', [children]).
export function h(tag, attrs, ...kids) {
  const [head, id] = tag.split('#');
  const [name, ...cls] = head.split('.');
  const el = document.createElement(name || 'div');
  if (id) el.id = id;
  if (cls.length) el.className = cls.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    kids.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  add(el, kids);
  return el;
}

// Replace el's children (arrays flattened, null and false skipped).
export function set(el, ...kids) {
  el.replaceChildren();
  add(el, kids);
  return el;
}

function add(el, kids) {
  for (const k of kids) {
    if (k == null || k === false) continue;
    if (Array.isArray(k)) add(el, k);
    else el.append(k instanceof Node ? k : String(k));
  }
}

// Exact integers with separators (tests strip them); other numbers to 3 significant digits.
export function num(v) {
  if (v == null || Number.isNaN(v)) return '–';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3);
}

export function bytes(v) {
  if (v == null) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : v) + ' ' + u[i];
}

export function ago(ms) {
  if (!ms) return '–';
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

export function table(cols, rows, attrs) {
  return h('table', attrs || {},
    h('thead', h('tr', cols.map(c => h('th', c)))),
    h('tbody', rows.map(r => h('tr', r.map(c => h('td', c instanceof Node ? c : String(c ?? '')))))));
}

export function card(label, value, attrs) {
  return h('div.card', attrs || {}, h('div.label', label), h('div.value', value));
}

export function message(text, cls = 'note') {
  return h('p.' + cls, text);
}
