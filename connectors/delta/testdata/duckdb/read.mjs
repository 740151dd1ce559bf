// Test-only: an independent reader of a Delta table written by Sluice.
// It reconciles the log itself (the checkpoint named by _last_checkpoint,
// read by DuckDB, then the JSON entries after it: add minus remove), has
// DuckDB read exactly the Parquet files the log lists, and prints JSON:
// {files, types, rows, deltaScan}. rows are ordered by the first column,
// every value rendered as text by DuckDB. deltaScan says whether DuckDB's
// delta extension (delta_scan) could be loaded and what it read.
//
//   node read.mjs <table directory>
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

const table = process.argv[2];
const logDir = path.join(table, '_delta_log');
const db = await DuckDBInstance.create(':memory:');
const conn = await db.connect();
await conn.run("SET TimeZone = 'UTC'");
const q = (s) => `'${s.replaceAll("'", "''")}'`;

const active = new Map();
let from = 0;
let checkpointFiles = 0;
const lastPath = path.join(logDir, '_last_checkpoint');
if (fs.existsSync(lastPath)) {
  const last = JSON.parse(fs.readFileSync(lastPath, 'utf8'));
  const ckpt = path.join(logDir, String(last.version).padStart(20, '0') + '.checkpoint.parquet');
  const r = await conn.runAndReadAll(`SELECT add.path AS path FROM read_parquet(${q(ckpt)}) WHERE add IS NOT NULL`);
  for (const row of r.getRowObjectsJson()) {
    active.set(row.path, true);
    checkpointFiles++;
  }
  from = last.version + 1;
}
for (let v = from; ; v++) {
  const p = path.join(logDir, String(v).padStart(20, '0') + '.json');
  if (!fs.existsSync(p)) break;
  for (const line of fs.readFileSync(p, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const a = JSON.parse(line);
    if (a.add) active.set(a.add.path, true);
    if (a.remove) active.delete(a.remove.path);
  }
}
const files = [...active.keys()].sort();
const out = { files, checkpointFiles, types: {}, rows: [], deltaScan: '' };
if (files.length > 0) {
  const list = '[' + files.map((f) => q(path.join(table, f))).join(', ') + ']';
  const d = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${list})`);
  for (const row of d.getRowObjectsJson()) out.types[row.column_name] = row.column_type;
  const r = await conn.runAndReadAll(`SELECT COLUMNS(*)::VARCHAR FROM read_parquet(${list}) ORDER BY ALL`);
  out.rows = r.getRowObjectsJson();
}
try {
  await conn.run('INSTALL delta');
  await conn.run('LOAD delta');
  const r = await conn.runAndReadAll(`SELECT count(*)::VARCHAR AS n FROM delta_scan(${q(table)})`);
  out.deltaScan = 'rows ' + r.getRowObjectsJson()[0].n;
} catch (e) {
  out.deltaScan = 'unavailable: ' + String(e.message || e).split('\n')[0];
}
console.log(JSON.stringify(out));
