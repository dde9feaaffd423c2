// dump_rows.mjs DIR COLS: every *.parquet under DIR (recursively) read with DuckDB (one
// thread, union by name); prints one JSON object per row with the columns COLS (comma-separated,
// missing columns as null) and the file's path relative to DIR as "_file".
import { DuckDBInstance } from '@duckdb/node-api';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
const root = process.argv[2], cols = process.argv[3].split(',');
const files = [];
(function walk(d) {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (f.endsWith('.parquet') && !f.startsWith('.')) files.push(p);
  }
})(root);
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
for (const f of files.sort()) {
  const have = (await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${f}')`))
    .getRows().map((r) => r[0]);
  const sel = cols.map((c) => (have.includes(c) ? `"${c}"` : `NULL AS "${c}"`)).join(', ');
  const r = await con.runAndReadAll(`SELECT ${sel} FROM read_parquet('${f}')`);
  for (const row of r.getRows()) {
    const o = { _file: relative(root, f) };
    cols.forEach((c, i) => {
      const v = row[i];
      o[c] = typeof v === 'bigint' ? Number(v) : v !== null && typeof v === 'object' ? String(v) : v;
    });
    console.log(JSON.stringify(o));
  }
}
