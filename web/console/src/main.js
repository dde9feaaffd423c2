// The console: a hash router over five pages, one poll loop that refreshes the history and
// the page on screen. ?interval=MS (default 2000) sets the poll period.
import './style.css';
import { poll, seed } from './history.js';
import pipeline from './pages/pipeline.js';
import profiles from './pages/profiles.js';
import partout from './pages/partout.js';
import anomalies from './pages/anomalies.js';
import aggregator from './pages/aggregator.js';

const pages = { pipeline, profiles, partout, anomalies, aggregator };
const INTERVAL = Math.max(200, Number(new URLSearchParams(location.search).get('interval')) || 2000);
const main = document.getElementById('main');
const status = document.getElementById('status');
let current = null, currentName = '';

function route() {
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1] || 'pipeline';
  if (name === currentName && current) return;
  if (current && current.unmount) current.unmount();
  currentName = pages[name] ? name : 'pipeline';
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle('active', a.dataset.page === currentName);
  main.replaceChildren();
  main.dataset.page = currentName;
  current = pages[currentName](main);
  tick(false);
}

let busy = false;
async function tick(fetchNew = true) {
  if (busy) return;
  busy = true;
  try {
    if (fetchNew) {
      const s = await poll();
      status.textContent = `up ${Math.round(s.pipeline.uptime_s)} s · ${s.pipeline.workers} workers · v${s.pipeline.version}`;
      status.classList.remove('error');
    }
    if (current && current.update) await current.update();
  } catch (e) {
    status.textContent = 'API: ' + e.message;
    status.classList.add('error');
  } finally {
    busy = false;
  }
}

window.addEventListener('hashchange', route);
tick().then(() => seed().catch(() => {})).then(route);
setInterval(tick, INTERVAL);
