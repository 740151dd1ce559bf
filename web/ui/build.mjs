// Builds the Sluice editor into dist/: one JavaScript and one CSS bundle
// named by content hash (plus gzip copies the server sends when accepted),
// index.html naming them, and sources.sha256, the hash of everything the
// bundle is built from, which a Go test compares with the sources.
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');

// sourceHash must match sourceHash in web/ui_test.go: sha256 over
// "<path>\0<sha256 of content>\n" for build.mjs, package.json,
// package-lock.json and every file under src/, sorted by path.
export function sourceHash() {
  const files = ['build.mjs', 'package.json', 'package-lock.json'];
  const walk = (dir) => {
    for (const e of fs.readdirSync(path.join(here, dir), { withFileTypes: true })) {
      const rel = dir + '/' + e.name;
      if (e.isDirectory()) walk(rel);
      else files.push(rel);
    }
  };
  walk('src');
  files.sort();
  const h = createHash('sha256');
  for (const f of files) {
    const sum = createHash('sha256').update(fs.readFileSync(path.join(here, f))).digest('hex');
    h.update(`${f}\0${sum}\n`);
  }
  return h.digest('hex');
}

fs.rmSync(dist, { recursive: true, force: true });
const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ['src/main.js'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  outdir: 'dist/assets',
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});

let js = '', css = '', gzipped = 0;
for (const out of Object.keys(result.metafile.outputs)) {
  const name = path.basename(out);
  if (name.endsWith('.js')) js = name;
  if (name.endsWith('.css')) css = name;
  const body = fs.readFileSync(path.join(here, out));
  const gz = zlib.gzipSync(body, { level: 9 });
  // gzip headers carry no time stamp, so rebuilding the same sources gives
  // the same bytes.
  fs.writeFileSync(path.join(here, out + '.gz'), gz);
  gzipped += gz.length;
}
const html = fs.readFileSync(path.join(here, 'src/index.html'), 'utf8')
  .replaceAll('{{js}}', '/assets/' + js)
  .replaceAll('{{css}}', '/assets/' + css);
fs.writeFileSync(path.join(dist, 'index.html'), html);
fs.writeFileSync(path.join(dist, 'sources.sha256'), sourceHash() + '\n');
console.log(`built dist/assets/${js} and ${css}: ${(gzipped / 1024).toFixed(1)} KB gzipped`);
