// read_parquet.mjs — check Parquet files written by sluice's tests with independent readers.
//
// Usage: node read_parquet.mjs DIR
// For every DIR/<name>.expect.json next to DIR/<name>.parquet:
//   {
//     "sql":   optional query, $F is the file (default: SELECT * FROM read_parquet($F)),
//     "rows":  expected rows (each row rendered by DuckDB's to_json and compared deeply),
//     "count": expected row count (default rows.length),
//     "schema": optional {column: DuckDB type} checked against DESCRIBE,
//     "meta":  optional [{row_group_id, column_id, <parquet_metadata column>: value}],
//     "row_groups": optional count, "kv": optional {key: value},
//     "hyparquet": true to also read the file with hyparquet and compare with "rows"
//   }
// DuckDB runs with one thread. Prints one line per file; exits 1 on the first mismatch.
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetReadObjects } from 'hyparquet';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

const dir = process.argv[2];
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();

async function all(sql) {
  const r = await con.runAndReadAll(sql);
  return r.getRowObjectsJson();
}

function lit(s) {
  return "'" + s.replace(/'/g, "''") + "'";
}

function norm(v) {
  // hyparquet: BigInt -> number when safe, else string; Uint8Array -> string
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(norm);
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    const o = {};
    for (const k of Object.keys(v)) o[k] = norm(v[k]);
    return o;
  }
  return v === undefined ? null : v;
}

let failed = 0, files = 0;
function fail(name, what, got, want) {
  console.log(`FAIL ${name}: ${what}\n  got:  ${JSON.stringify(got)?.slice(0, 2000)}\n  want: ${JSON.stringify(want)?.slice(0, 2000)}`);
  failed++;
}

for (const f of readdirSync(dir).sort()) {
  if (!f.endsWith('.expect.json')) continue;
  const name = f.slice(0, -'.expect.json'.length);
  const file = join(dir, name + '.parquet');
  const exp = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  files++;
  const F = lit(file);
  try {
    const sql = (exp.sql || 'SELECT * FROM read_parquet($F)').replaceAll('$F', F);
    const cnt = await all(`SELECT count(*)::INTEGER AS n FROM read_parquet(${F})`);
    const want = exp.count ?? (exp.rows ? exp.rows.length : undefined);
    if (want !== undefined && cnt[0].n !== want) { fail(name, 'row count', cnt[0].n, want); continue; }
    if (exp.rows) {
      const got = (await all(`SELECT to_json(q)::VARCHAR AS j FROM (${sql}) q`)).map((r) => JSON.parse(r.j));
      let bad = -1;
      for (let i = 0; i < Math.max(got.length, exp.rows.length); i++)
        if (!isDeepStrictEqual(got[i], exp.rows[i])) { bad = i; break; }
      if (bad >= 0) { fail(name, `row ${bad}`, got[bad], exp.rows[bad]); continue; }
    }
    if (exp.schema) {
      const d = await all(`DESCRIBE SELECT * FROM read_parquet(${F})`);
      const got = Object.fromEntries(d.map((r) => [r.column_name, r.column_type]));
      if (!isDeepStrictEqual(got, exp.schema)) { fail(name, 'schema', got, exp.schema); continue; }
    }
    if (exp.row_groups !== undefined) {
      const r = await all(`SELECT count(DISTINCT row_group_id)::INTEGER AS n FROM parquet_metadata(${F})`);
      if (r[0].n !== exp.row_groups) { fail(name, 'row groups', r[0].n, exp.row_groups); continue; }
    }
    let metaBad = false;
    for (const m of exp.meta || []) {
      const r = await all(`SELECT * FROM parquet_metadata(${F}) WHERE row_group_id = ${m.row_group_id} AND column_id = ${m.column_id}`);
      for (const k of Object.keys(m)) {
        const g = r[0] ? r[0][k] : undefined;
        if (String(g) !== String(m[k])) { fail(name, `metadata ${k} of column ${m.column_id}`, g, m[k]); metaBad = true; break; }
      }
      if (metaBad) break;
    }
    if (metaBad) continue;
    if (exp.kv) {
      const r = await all(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${F})`);
      const got = Object.fromEntries(r.map((x) => [x.k, x.v]));
      for (const k of Object.keys(exp.kv))
        if (got[k] !== exp.kv[k]) { fail(name, `kv ${k}`, got[k], exp.kv[k]); metaBad = true; break; }
      if (metaBad) continue;
    }
    if (exp.hyparquet) {
      const buf = readFileSync(file);
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
      const rows = norm(await parquetReadObjects({ file: ab }));
      const want2 = exp.rows;
      let bad = -1;
      for (let i = 0; i < Math.max(rows.length, want2.length); i++)
        if (!isDeepStrictEqual(rows[i], want2[i])) { bad = i; break; }
      if (bad >= 0) { fail(name, `hyparquet row ${bad}`, rows[bad], want2[bad]); continue; }
    }
    console.log(`ok ${name}${exp.hyparquet ? ' (+hyparquet)' : ''}`);
  } catch (e) {
    fail(name, 'reader error', String(e.message || e), 'no error');
  }
}
console.log(`${files} files, ${failed} failed`);
process.exit(failed || !files ? 1 : 0);
