// Preview: rows of a SELECT (or of a pipeline without its sink) streamed
// over the preview websocket into a grid. Messages are gathered as they
// arrive and drawn at most once per animation frame; the grid draws only
// the rows in view, so ten thousand rows cost no more than fifty.
import { h } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { openPreview } from './api.js';

const html = htm.bind(h);
export const KEEP = 10000; // rows kept for the grid (the server's cap)
const ROW_H = 24;

export class PreviewRun {
  constructor(request, label) {
    this.request = request;
    this.label = label;
    this.columns = null;
    this.rows = [];
    this.held = []; // rows received while paused
    this.total = 0;
    this.received = 0;
    this.started = performance.now();
    this.firstRowAt = 0;
    this.endedAt = 0;
    this.stats = null;
    this.status = 'connecting';
    this.paused = false;
    this.reason = '';
    this.error = null;
    this.version = 0;
    this.listeners = new Set();
    this.frame = 0;
    this.onError = null;
  }

  start() {
    this.ws = openPreview(this.request, {
      message: (m) => this.message(m),
      close: (ev, heard) => {
        if (this.status === 'running' || this.status === 'connecting') {
          this.finish('error');
          this.error = this.error || { message: heard ? 'the connection closed' : 'the preview could not connect' };
        }
        this.changed();
      },
    });
    this.tick = setInterval(() => { if (this.live()) this.changed(); }, 250);
  }

  live() { return this.status === 'running' || this.status === 'connecting'; }

  message(m) {
    switch (m.type) {
      case 'schema':
        this.columns = m.columns || [];
        this.status = 'running';
        break;
      case 'rows': {
        if (!this.firstRowAt) this.firstRowAt = performance.now();
        this.total = m.total;
        const into = this.paused ? this.held : this.rows;
        for (const r of m.rows) into.push(r);
        this.received += m.rows.length;
        if (into.length > KEEP) into.splice(0, into.length - KEEP);
        break;
      }
      case 'stats':
        this.stats = m;
        break;
      case 'end':
        this.total = m.total;
        this.reason = m.reason;
        this.finish('ended');
        break;
      case 'error':
        this.error = m;
        this.finish('error');
        if (this.onError) this.onError(m, this);
        break;
    }
    this.changed();
  }

  finish(status) {
    this.status = status;
    this.endedAt = performance.now();
    clearInterval(this.tick);
  }

  stop() {
    if (!this.live()) return;
    this.finish('stopped');
    this.reason = 'stopped';
    try { this.ws.close(); } catch { /* closed */ }
    this.changed();
  }

  pause() { this.paused = true; this.changed(); }

  resume() {
    this.paused = false;
    for (const r of this.held) this.rows.push(r);
    this.held = [];
    if (this.rows.length > KEEP) this.rows.splice(0, this.rows.length - KEEP);
    this.changed();
  }

  elapsed() { return ((this.endedAt || performance.now()) - this.started) / 1000; }

  rate() {
    const s = this.elapsed();
    return s > 0 ? this.total / s : 0;
  }

  changed() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.version++;
      for (const fn of this.listeners) fn(this.version);
    });
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

const fmt = (n) => (n === undefined || n === null ? '–' : Number(n).toLocaleString('en-US'));

function cell(v) {
  if (v === null || v === undefined) return html`<td class="null">NULL</td>`;
  if (typeof v === 'object') return html`<td>${JSON.stringify(v)}</td>`;
  if (typeof v === 'number') return html`<td class="num">${String(v)}</td>`;
  return html`<td>${String(v)}</td>`;
}

export function Grid({ run }) {
  const box = useRef(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(400);
  const follow = useRef(true);
  const auto = useRef(-1); // where the grid last scrolled itself to
  const rows = run.rows;
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  // Before the browser paints: a new row never shows a frame out of place.
  useLayoutEffect(() => {
    const el = box.current;
    if (el && follow.current && !run.paused) {
      el.scrollTop = el.scrollHeight;
      auto.current = el.scrollTop;
      if (el.scrollTop !== top) setTop(el.scrollTop);
    }
  });
  const onScroll = (e) => {
    const el = e.currentTarget;
    // Only the user's scrolling decides whether the grid follows new rows.
    if (Math.abs(el.scrollTop - auto.current) > 1) follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_H;
    setTop(el.scrollTop);
  };
  const cols = run.columns || [];
  const first = Math.max(0, Math.floor(top / ROW_H) - 5);
  const last = Math.min(rows.length, first + Math.ceil(height / ROW_H) + 10);
  const slice = rows.slice(first, last);
  return html`<div class="grid" ref=${box} onScroll=${onScroll}>
    <table style=${{ top: `${first * ROW_H}px` }}>
      <thead><tr><th class="rownum">#</th>${cols.map((c) => html`<th title=${c.type}><span class="col">${c.name}</span><span class="type">${c.type}</span></th>`)}</tr></thead>
      <tbody>${slice.map((r, i) => html`<tr key=${first + i}><td class="rownum">${first + i + 1 + run.received - run.held.length - rows.length}</td>${cols.map((c) => cell(r[c.name]))}</tr>`)}</tbody>
    </table>
    <div class="spacer" style=${{ height: `${(rows.length + 1) * ROW_H}px` }}></div>
  </div>`;
}

const counters = [
  ['read', 'rows read', 'rows the preview read from its sources'],
  ['emitted', 'rows out', 'rows the preview produced'],
  ['dedup_dropped', 'duplicates dropped', 'rows DEDUPLICATE BY dropped as repeats within its window'],
  ['join_matches', 'join matches', 'pairs the interval join produced'],
  ['join_waiting', 'waiting for a join partner', 'rows held by the join until a partner arrives or the window passes'],
  ['late_dropped', 'late rows dropped', 'rows that arrived behind the watermark'],
  ['dead_letters', 'dead letters', 'records that could not be decoded or typed'],
];

function Stats({ run }) {
  const s = run.stats;
  if (!s) return html`<div class="stats"><div class="muted">Counters appear once the preview runs.</div></div>`;
  return html`<div class="stats">
    <table>${counters.map(([k, label, title]) => html`<tr class=${'stat-' + k + (s[k] > 0 && k !== 'read' && k !== 'emitted' && k !== 'join_matches' ? ' warn' : '')} title=${title}><th>${label}</th><td data-stat=${k} data-value=${s[k] || 0}>${fmt(s[k])}</td></tr>`)}</table>
    ${s.last_dead_letter ? html`<div class="lastdl" title="the last dead letter's reason">last dead letter: ${s.last_dead_letter}</div>` : null}
    ${s.operators && s.operators.length ? html`<table class="ops"><tr><th>operator</th><th>in</th><th>out</th></tr>${s.operators.map((o) => html`<tr><td>${o.kind}${o.name ? ' ' + o.name : ''}</td><td>${fmt(o.rows_in)}</td><td>${fmt(o.rows_out)}</td></tr>`)}</table>` : null}
  </div>`;
}

export function PreviewPane({ run }) {
  const [, setVersion] = useState(0);
  useEffect(() => (run ? run.subscribe(setVersion) : undefined), [run]);
  if (!run) {
    return html`<div class="empty">Put the cursor in a SELECT or a CREATE PIPELINE and press <kbd>Ctrl</kbd>+<kbd>Enter</kbd> to preview its rows on live data. A pipeline's preview writes nothing to its sink.</div>`;
  }
  const status = run.paused && run.live() ? 'paused' : run.status;
  const err = run.error;
  return html`<div class="preview">
    <div class="pbar">
      <span class=${'badge ' + status} data-status=${status}>${status}${run.reason && status !== 'stopped' ? ': ' + run.reason : ''}</span>
      <span class="what" title=${run.label}>${run.label}</span>
      <span class="count" data-total=${run.total}><b>${fmt(run.total)}</b> rows</span>
      <span class="rate">${fmt(Math.round(run.rate()))} rows/s</span>
      <span class="elapsed">${run.elapsed().toFixed(1)} s</span>
      ${run.held.length ? html`<span class="held">${fmt(run.held.length)} held while paused</span>` : null}
      <span class="grow"></span>
      ${run.live() ? (run.paused
        ? html`<button class="resume" onClick=${() => run.resume()}>Resume</button>`
        : html`<button class="pause" onClick=${() => run.pause()}>Pause</button>`) : null}
      ${run.live() ? html`<button class="stop" onClick=${() => run.stop()}>Stop</button>` : null}
    </div>
    ${err ? html`<div class="perror">${err.message}</div>` : null}
    <div class="pbody">
      ${run.columns ? html`<${Grid} run=${run} />` : html`<div class="grid empty">${run.status === 'connecting' ? 'planning…' : ''}</div>`}
      <${Stats} run=${run} />
    </div>
  </div>`;
}
