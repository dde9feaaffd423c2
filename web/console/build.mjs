// Bundle the console into dist/ (app.js, app.css, index.html): `npm run build`.
// `--check` builds into a temporary directory and fails when dist/ differs (the committed
// bundle must be what the sources build; tests/integ/console.sh runs it).
import * as esbuild from 'esbuild';
import { mkdtempSync, readFileSync, readdirSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const check = process.argv.includes('--check');
const out = check ? mkdtempSync(join(tmpdir(), 'console-')) : join(here, 'dist');
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: join(here, 'src/main.js') },
  bundle: true, minify: true, format: 'iife', target: ['es2020'],
  outdir: out, legalComments: 'none', logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
let size = 0;
for (const f of readdirSync(out)) size += readFileSync(join(out, f)).length;
if (check) {
  const dist = join(here, 'dist');
  const a = readdirSync(out).sort(), b = readdirSync(dist).sort();
  const same = a.join() === b.join() &&
    a.every(f => readFileSync(join(out, f)).equals(readFileSync(join(dist, f))));
  rmSync(out, { recursive: true });
  if (!same) { console.error('web/console/dist is not what the sources build: run npm run build'); process.exit(1); }
  console.log(`dist up to date (${size} bytes)`);
} else {
  console.log(`dist: ${readdirSync(out).join(', ')} (${size} bytes)`);
}
