// Fetching the API: relative paths (the console lives at /console/, the API at /api/v1/...),
// a bearer token from sessionStorage, and a login prompt when the API answers 401.
const KEY = 'sluice.token';
let waiting = null;

export function token() { return sessionStorage.getItem(KEY); }

export async function api(path) {
  for (let tries = 0; ; tries++) {
    const t = token();
    const r = await fetch('..' + path, {
      headers: t ? { Authorization: 'Bearer ' + t } : {}, cache: 'no-store',
    });
    if (r.status === 401 && tries < 20) {
      await login(t ? 'The API refused that token.' : '');
      continue;
    }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      const e = new Error(body.error || `${r.status} ${r.statusText}`);
      e.status = r.status;
      throw e;
    }
    return body;
  }
}

function login(msg) {
  if (waiting) return waiting;
  waiting = new Promise(resolve => {
    const dlg = document.getElementById('login');
    const input = document.getElementById('login-token');
    document.getElementById('login-error').textContent = msg;
    document.getElementById('login-form').onsubmit = ev => {
      ev.preventDefault();
      const v = input.value.trim();
      if (!v) return;
      sessionStorage.setItem(KEY, v);
      input.value = '';
      dlg.close();
      waiting = null;
      resolve();
    };
    dlg.addEventListener('cancel', ev => ev.preventDefault());
    if (!dlg.open) dlg.showModal();
    input.focus();
  });
  return waiting;
}
