// bench_duckdb.mjs — DuckDB's side of bench/bench_parquet.c.
// Usage: node bench_duckdb.mjs LINES.ndjson OUTDIR
// Loads the same Zeek-conn rows into an in-memory table (not timed), then with one thread
// times COPY ... TO (FORMAT PARQUET) per codec. Prints `codec=<c> seconds=<s> bytes=<n>`.
import { DuckDBInstance } from '@duckdb/node-api';
import { statSync } from 'node:fs';
const [file, out] = process.argv.slice(2);
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
await con.run(`CREATE TABLE t AS SELECT _path, to_timestamp(ts) AS ts, uid, "id.orig_h",
  "id.orig_p"::INTEGER AS "id.orig_p", "id.resp_h", "id.resp_p"::INTEGER AS "id.resp_p", proto,
  service, duration, orig_bytes, resp_bytes, conn_state, missed_bytes, history, orig_pkts,
  orig_ip_bytes, resp_pkts, resp_ip_bytes
  FROM read_json('${file}', format = 'newline_delimited', columns = {_path: 'VARCHAR',
  ts: 'DOUBLE', uid: 'VARCHAR', "id.orig_h": 'VARCHAR', "id.orig_p": 'BIGINT',
  "id.resp_h": 'VARCHAR', "id.resp_p": 'BIGINT', proto: 'VARCHAR', service: 'VARCHAR',
  duration: 'DOUBLE', orig_bytes: 'BIGINT', resp_bytes: 'BIGINT', conn_state: 'VARCHAR',
  missed_bytes: 'BIGINT', history: 'VARCHAR', orig_pkts: 'BIGINT', orig_ip_bytes: 'BIGINT',
  resp_pkts: 'BIGINT', resp_ip_bytes: 'BIGINT'})`);
await con.run('SET threads = 1');
await con.run('SET preserve_insertion_order = true');
for (const codec of ['uncompressed', 'snappy', 'zstd']) {
  const path = `${out}/duckdb-${codec}.parquet`;
  let best = Infinity;
  for (let i = 0; i < 2; i++) {
    const t0 = process.hrtime.bigint();
    await con.run(`COPY t TO '${path}' (FORMAT PARQUET, COMPRESSION ${codec})`);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (s < best) best = s;
  }
  console.log(`codec=${codec} seconds=${best.toFixed(4)} bytes=${statSync(path).size}`);
}
