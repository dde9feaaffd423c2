// read_any.mjs — DIR: read every *.parquet in DIR with DuckDB (one thread); exit 1 if any is rejected.
import { DuckDBInstance } from '@duckdb/node-api';
import { readdirSync } from 'node:fs';
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
let bad = 0, n = 0, rows = 0;
for (const f of readdirSync(process.argv[2])) {
  n++;
  try { const r = await con.runAndReadAll(`SELECT * FROM read_parquet('${process.argv[2]}/${f}')`); rows += r.getRows().length; }
  catch (e) { bad++; console.log(f, String(e.message).slice(0, 300)); }
}
console.log(`${n} files, ${rows} rows, ${bad} rejected by DuckDB`);
process.exit(bad ? 1 : 0);
