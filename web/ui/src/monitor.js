// The monitor: the pipelines page (every pipeline with its state, counters
// and a 15-minute sparkline) and a pipeline's page (its operator graph
// with live counters pushed over a websocket, the SQL each node comes
// from, the rows it writes and its last dead letters).
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import dagre from '@dagrejs/dagre';
import { EditorState, StateField, StateEffect } from '@codemirror/state';
import { EditorView, Decoration, lineNumbers } from '@codemirror/view';
import { syntaxHighlighting } from '@codemirror/language';
import { sql } from '@codemirror/lang-sql';
import { call, getJSON, openSocket } from './api.js';
import { Sluice } from './dialect.js';
import { highlight, theme } from './editor.js';
import { toOffset } from './positions.js';
import { PreviewRun, Grid } from './preview.js';

const html = htm.bind(h);
const enc = encodeURIComponent;

export const num = (n) => (n === undefined || n === null ? '–' : Number(n).toLocaleString('en-US'));

// short writes 1234567 as 1.2M.
export function short(n) {
  if (n === undefined || n === null) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(1) + 'G';
  if (a >= 1e6) return (n / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  return String(Math.round(n * 10) / 10);
}

function bytes(n) {
  if (!n) return '0 B';
  if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1) + ' GiB';
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + ' MiB';
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + ' KiB';
  return n + ' B';
}

// pct writes a share of a core as a percentage, with the digits a small
// one needs.
function pct(v) {
  const p = (v || 0) * 100;
  if (p === 0) return '0%';
  if (p < 0.1) return p.toFixed(3) + '%';
  if (p < 10) return p.toFixed(1) + '%';
  return Math.round(p) + '%';
}

function ago(s) {
  if (s === undefined || s === null) return '–';
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}

function ms(v) {
  if (v === undefined || v === null) return '–';
  const a = Math.abs(v);
  if (a < 1000) return `${Math.round(v)} ms`;
  if (a < 120000) return `${(v / 1000).toFixed(1)} s`;
  if (a < 7200000) return `${(v / 60000).toFixed(1)} min`;
  return `${(v / 3600000).toFixed(1)} h`;
}

// control starts, stops or drops a pipeline; the answer is a script result.
export async function control(name, verb) {
  const r = verb === 'drop'
    ? await call('DELETE', `/api/v1/pipelines/${enc(name)}`)
    : await call('POST', `/api/v1/pipelines/${enc(name)}/${verb}`);
  if (!r.ok) throw new Error((r.data && r.data.error) || `HTTP ${r.status}`);
  return r.data;
}

// Sparkline draws a series as an SVG polyline: rows written per second over
// the last 15 minutes, the read rate as a fainter line behind it.
export function Sparkline({ history, w = 140, hgt = 28 }) {
  const out = (history && history.out) || [];
  const inn = (history && history.in) || [];
  if (out.length < 2) return html`<svg class="spark" width=${w} height=${hgt} data-points=${out.length}><text x="2" y=${hgt / 2 + 4} class="spark-empty">collecting…</text></svg>`;
  const max = Math.max(1, ...out, ...inn);
  // The samples fill the width: up to 15 minutes, fewer after a start.
  const pts = (s) => s.map((v, i) => `${((w - 2) * i) / (s.length - 1) + 1},${hgt - 2 - ((hgt - 4) * v) / max}`).join(' ');
  const last = out[out.length - 1];
  const every = history.every_s || 10;
  return html`<svg class="spark" width=${w} height=${hgt} data-points=${out.length}>
    <title>rows written per second, every ${every} s over the last ${Math.round((out.length * every) / 60)} min (now ${short(last)}/s, peak ${short(max)}/s); the faint line is records read</title>
    <polyline class="spark-in" points=${pts(inn)} />
    <polyline class="spark-out" points=${pts(out)} />
  </svg>`;
}

// usePoll calls fn now and every ms until the component goes.
function usePoll(fn, ms, deps) {
  useEffect(() => {
    let stop = false;
    let timer = 0;
    const tick = async () => {
      try { await fn(() => stop); } catch { /* the next tick tries again */ }
      if (!stop) timer = setTimeout(tick, ms);
    };
    tick();
    return () => { stop = true; clearTimeout(timer); };
  }, deps);
}

function Actions({ p, onOpen, after, compact }) {
  const [busy, setBusy] = useState('');
  const [err, setErr] = useState('');
  const act = async (verb) => {
    if (verb === 'drop' && !confirm(`Drop pipeline ${p.name}? Its checkpoints are deleted.`)) return;
    setBusy(verb); setErr('');
    try { await control(p.name, verb); } catch (e) { setErr(e.message); }
    setBusy('');
    if (after) after(verb);
  };
  const running = p.state === 'running' || p.running;
  return html`<span class="actions">
    ${running
      ? html`<button data-action="stop" disabled=${!!busy} onClick=${() => act('stop')} title="STOP PIPELINE: write what it holds, checkpoint, stop">${busy === 'stop' ? 'stopping…' : 'Stop'}</button>`
      : html`<button data-action="start" disabled=${!!busy} onClick=${() => act('start')} title="START PIPELINE: resume from its checkpoint">${busy === 'start' ? 'starting…' : 'Start'}</button>`}
    <button data-action="drop" disabled=${!!busy} onClick=${() => act('drop')} title="DROP PIPELINE">Drop</button>
    <button data-action="open" onClick=${() => onOpen(p)} title="open its SQL in an editor tab">${compact ? 'SQL' : 'Open in editor'}</button>
    ${err ? html`<span class="bad">${err}</span>` : null}
  </span>`;
}

// stageLabel names a repartition stage by the source it reads: the stage
// "p.orders.repartition" of pipeline p is "orders".
function stageLabel(pipeline, stage) {
  const pre = pipeline.toLowerCase() + '.';
  let s = stage.startsWith(pre) ? stage.slice(pre.length) : stage;
  if (s.endsWith('.repartition')) s = s.slice(0, -'.repartition'.length);
  return s;
}

// taskSummary says where a pipeline's tasks run, from the tasks of the
// API: for a pipeline split into tasks "3 tasks · node-a 2 · node-b 1"
// (or "3 tasks on this server" without owners: one server without a
// shared catalog), each repartition stage on its own ("stage orders: 3
// tasks · node-a 3"); for a pipeline of one task the server holding its
// lease ("on node-a"), when there is one. orphans counts the tasks of a
// pipeline that should run whose lease no server holds live (leases exist
// only with a shared catalog). Null when there is nothing to say.
export function taskSummary(p) {
  const tasks = p.tasks || [];
  const own = tasks.filter((t) => !t.stage);
  const stages = new Map();
  for (const t of tasks) {
    if (!t.stage) continue;
    if (!stages.has(t.stage)) stages.set(t.stage, []);
    stages.get(t.stage).push(t);
  }
  const count = (n) => `${n} task${n === 1 ? '' : 's'}`;
  const where = (ts) => {
    const by = new Map();
    for (const t of ts) if (t.owner) by.set(t.owner, (by.get(t.owner) || 0) + 1);
    if (by.size === 0) {
      const here = ts.filter((t) => t.running_here).length;
      if (here === ts.length) return ' on this server';
      return here ? ` · ${here} running here` : '';
    }
    return [...by.keys()].sort().map((o) => ` · ${o} ${by.get(o)}`).join('');
  };
  const parts = [];
  if (own.length > 1 || stages.size) parts.push(count(own.length) + where(own));
  else if (own.length === 1 && own[0].owner) parts.push('on ' + own[0].owner);
  for (const [stage, ts] of stages) parts.push(`stage ${stageLabel(p.name, stage)}: ${count(ts.length)}${where(ts)}`);
  const shared = tasks.some((t) => t.owner) || p.lease_live !== undefined;
  const orphans = shared && p.running ? tasks.filter((t) => !t.owner || !t.lease_live) : [];
  if (!parts.length && !orphans.length) return null;
  return { parts, tasks: own.length, stages: stages.size, orphans };
}

// TaskLine shows taskSummary, the tasks without a live owner marked.
function TaskLine({ p }) {
  const s = taskSummary(p);
  if (!s) return null;
  const o = s.orphans;
  // Each part on a line of its own in the list; "; " between them in the
  // text (and inline on the pipeline's page).
  const parts = s.parts.map((t, i) => html`${i ? html`<span class="sep">; </span>` : null}<span class="tpart">${t}</span>`);
  return html`<div class="ptasks" data-tasks=${s.tasks} data-stages=${s.stages} data-orphans=${o.length}>${parts}${o.length
    ? html` <span class="orphan" title=${'no server holds a live lease of ' + o.map((t) => t.task).join(', ') + ': none runs them, or one is about to take them over'}>⚠ ${o.length === 1 ? '1 task' : o.length + ' tasks'} without a live owner</span>`
    : null}</div>`;
}

// ---- the pipelines page ----

export function PipelinesPage({ onOpen }) {
  const [list, setList] = useState(null);
  const prev = useRef({});
  const [, setTick] = useState(0);
  usePoll(async (stopped) => {
    const l = await getJSON('/api/v1/pipelines');
    if (stopped() || !l) return;
    // Rates from the counters of two polls a second apart.
    const now = performance.now();
    for (const p of l) {
      const m = p.metrics;
      const old = prev.current[p.name];
      if (m && old && old.since === p.since && now > old.t) {
        p.rateIn = ((m.records_in - old.in) * 1000) / (now - old.t);
        p.rateOut = ((m.rows_written - old.out) * 1000) / (now - old.t);
      } else if (old && old.since === p.since) {
        p.rateIn = old.rateIn; p.rateOut = old.rateOut;
      }
      prev.current[p.name] = m ? { t: now, in: m.records_in, out: m.rows_written, since: p.since, rateIn: p.rateIn, rateOut: p.rateOut } : undefined;
    }
    setList(l);
  }, 1000, []);
  if (!list) return html`<div class="monitor"><div class="empty">loading…</div></div>`;
  const refresh = () => setTick((t) => t + 1);
  return html`<div class="monitor pipelines-page">
    <h2>Pipelines <span class="muted">${list.length}</span></h2>
    ${list.length === 0 ? html`<div class="empty">No pipeline yet: write a CREATE PIPELINE in the <a href="#/">editor</a> and apply it.</div>` : html`
    <table class="plist">
      <thead><tr>
        <th>pipeline</th><th>state</th><th>sources → sink</th>
        <th class="n" title="records read from the sources since the run started">rows in</th>
        <th class="n" title="rows the sink has written since the run started">rows out</th>
        <th class="n" title="records read and rows written per second">rate</th>
        <th class="n" title="records behind the end of the sources">lag</th>
        <th class="n" title="rows DEDUPLICATE BY dropped as repeats">dups dropped</th>
        <th class="n" title="records that could not be decoded, sent to the dead-letter topic">dead letters</th>
        <th class="n" title="when the last checkpoint was stored">checkpoint</th>
        <th title="rows written per second over the last 15 minutes">last 15 min</th>
        <th></th>
      </tr></thead>
      <tbody>${list.map((p) => {
        const m = p.metrics || {};
        const has = !!p.metrics;
        return html`<tr class=${'prow ' + p.state} data-name=${p.name} data-state=${p.state}>
          <td class="pname"><a href=${'#/pipelines/' + enc(p.name)}>${p.name}</a>
            ${p.state === 'failed' && p.error ? html`<div class="perr" title=${p.error}>${p.error}${p.next_retry ? html` <span class="muted">(retry ${p.attempts} at ${new Date(p.next_retry).toLocaleTimeString()})</span>` : null}</div>` : null}
            <${TaskLine} p=${p} />
            ${(p.warnings || []).length ? html`<div class="pwarn" title=${p.warnings.join('\n')}>⚠ ${p.warnings.length} warning${p.warnings.length > 1 ? 's' : ''}</div>` : null}</td>
          <td><span class=${'state ' + p.state}>${p.state}</span></td>
          <td class="flow">${(p.sources || []).join(', ')} → ${p.sink}</td>
          <td class="n" data-col="in">${has ? num(m.records_in) : '–'}</td>
          <td class="n" data-col="out">${has ? num(m.rows_written) : '–'}</td>
          <td class="n rate">${has && p.rateIn !== undefined ? html`${short(p.rateIn)}/s<br/><span class="muted">${short(p.rateOut)}/s out</span>` : '–'}</td>
          <td class="n">${has ? (m.lag < 0 ? '?' : num(m.lag)) : '–'}</td>
          <td class="n">${has ? num(m.dedup_dropped) : '–'}</td>
          <td class=${'n' + (m.dead_lettered > 0 ? ' warn' : '')} data-col="dead" title=${m.last_dead_letter || ''}>${has ? num(m.dead_lettered) : '–'}</td>
          <td class="n">${has && m.checkpoint_age_s !== undefined ? ago(m.checkpoint_age_s) : '–'}</td>
          <td><${Sparkline} history=${p.history} /></td>
          <td class="acts"><${Actions} p=${p} onOpen=${onOpen} after=${refresh} compact=${true} /></td>
        </tr>`;
      })}</tbody>
    </table>`}
  </div>`;
}

// ---- the pipeline page ----

const NODE_W = 178;
const NODE_H = 84;

function layout(graph) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 20, ranksep: 30, marginx: 10, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) g.setNode(String(n.id), { width: NODE_W, height: NODE_H });
  for (const e of graph.edges) g.setEdge(String(e.from), String(e.to));
  dagre.layout(g);
  const pos = {};
  for (const id of g.nodes()) pos[id] = g.node(id);
  const edges = g.edges().map((e) => ({ from: e.v, to: e.w, points: g.edge(e).points }));
  return { pos, edges, width: g.graph().width, height: g.graph().height };
}

// lines says what a node's box shows besides its title, from its live
// counters: the two that matter for its kind first.
function lines(n, live) {
  if (n.kind === 'repartition' && n.repartition) {
    const r = n.repartition;
    return [`BY (${r.keys.join(', ')})`, `${r.partitions} partitions · ${r.tasks} tasks`, 'counters: on its tasks'];
  }
  if (n.stage) return ['in its repartition stage', 'counters: on its tasks'];
  if (!live) return ['waiting for counters…'];
  const rate = `${short(live.in_per_s)}/s · busy ${pct(live.busy)}`;
  const io = `in ${short(live.rows_in)} · out ${short(live.rows_out)}`;
  switch (n.kind) {
    case 'source':
      return [io, `lag ${live.lag === undefined ? '?' : short(live.lag)} · wm −${ms(live.watermark_delay_ms)}`, `decode ${pct(live.busy)} · q ${Math.round(live.queue_fill * 100)}%`];
    case 'dedup':
      return [io, `dropped ${short(live.dedup_drops || 0)}`, `keys ${short(live.state_entries || 0)} · ${bytes(live.state_bytes)}`];
    case 'join':
      return [io, `match ${short(live.join_matches || 0)} · exp ${short(live.join_expired || 0)}`, `wait ${short(live.join_waiting || 0)} · ${bytes(live.state_bytes)}`];
    case 'window':
      return [io, `late ${short(live.late_rows || 0)} · groups ${short(live.state_entries || 0)}`, rate];
    case 'filter':
      return [io, `dropped ${short(live.rows_in - live.rows_out)}`, rate];
    case 'sink':
      return [`in ${short(live.rows_in)} · wrote ${short(live.rows_out)}`, `batch ${short(live.batch_rows || 0)} · ${live.latency_ms ? live.latency_ms.toFixed(1) : '–'} ms`, `busy ${pct(live.busy)} · q ${Math.round(live.queue_fill * 100)}%`];
    default:
      return [io, rate];
  }
}

function GraphView({ graph, live, selected, onSelect }) {
  const lay = graph.layout;
  const byId = {};
  for (const n of (live && live.nodes) || []) byId[n.id] = n;
  const bottleneck = live ? live.bottleneck : -1;
  return html`<svg class="opgraph" style=${`max-width: ${lay.width}px`} viewBox=${`0 0 ${lay.width} ${lay.height}`} role="img" aria-label="operator graph">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead" /></marker></defs>
    ${lay.edges.map((e) => html`<polyline class="edge" points=${e.points.map((p) => `${p.x},${p.y}`).join(' ')} marker-end="url(#arrow)" />`)}
    ${graph.nodes.map((n) => {
      const p = lay.pos[String(n.id)];
      const l = byId[n.id];
      const x = p.x - NODE_W / 2, y = p.y - NODE_H / 2;
      const cls = 'node ' + n.kind + (n.stage ? ' staged' : '') + (n.id === selected ? ' selected' : '') + (n.id === bottleneck ? ' bottleneck' : '');
      // A repartition node's title names the source; its keys go below.
      const title = n.kind === 'repartition' && n.repartition ? 'repartition ' + n.repartition.source : n.title;
      return html`<g class=${cls} transform=${`translate(${x},${y})`} onClick=${() => onSelect(n.id)}
          data-node-id=${n.id} data-kind=${n.kind} data-stage=${n.stage || ''} data-rows-in=${l ? l.rows_in : ''} data-rows-out=${l ? l.rows_out : ''} data-bottleneck=${n.id === bottleneck ? 'true' : 'false'}>
        <title>${n.title}${n.details && n.details.length ? '\n' + n.details.join('\n') : ''}${n.span ? '\n(click: show its SQL)' : ''}</title>
        <rect width=${NODE_W} height=${NODE_H} rx="6" />
        <text x="9" y="17" class="ntitle">${title.length > 21 ? title.slice(0, 20) + '…' : title}</text>
        ${lines(n, l).map((t, i) => html`<text x="9" y=${36 + i * 16} class="nline">${t.length > 25 ? t.slice(0, 24) + '…' : t}</text>`)}
        ${n.id === bottleneck ? html`<text x=${NODE_W / 2} y="-5" class="btag" text-anchor="middle">${live.saturated ? 'bottleneck' : 'busiest'}</text>` : null}
      </g>`;
    })}
  </svg>`;
}

// A read-only editor view of the pipeline's SQL, with the selected node's
// span marked and scrolled into view.
const setMark = StateEffect.define();
const markDeco = Decoration.mark({ class: 'cm-node-span' });
const markField = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    for (const e of tr.effects) if (e.is(setMark)) deco = e.value ? Decoration.set([markDeco.range(e.value.from, e.value.to)]) : Decoration.none;
    return deco.map(tr.changes);
  },
  provide: (f) => EditorView.decorations.from(f),
});

function SQLView({ text, span }) {
  const box = useRef(null);
  const view = useRef(null);
  useEffect(() => {
    const v = new EditorView({
      state: EditorState.create({ doc: text, extensions: [lineNumbers(), EditorState.readOnly.of(true), EditorView.editable.of(false), syntaxHighlighting(highlight), sql({ dialect: Sluice }), theme, markField, EditorView.lineWrapping] }),
    });
    box.current.appendChild(v.dom);
    view.current = v;
    return () => v.destroy();
  }, [text]);
  useEffect(() => {
    const v = view.current;
    if (!v) return;
    if (!span) { v.dispatch({ effects: setMark.of(null) }); return; }
    const from = toOffset(v.state.doc, span.from.line, span.from.column);
    const to = Math.max(from, toOffset(v.state.doc, span.to.line, span.to.column));
    v.dispatch({ effects: [setMark.of({ from, to }), EditorView.scrollIntoView(from, { y: 'center' })] });
  }, [span, text]);
  return html`<div class="sqlview" ref=${box}></div>`;
}

const counterRows = [
  ['rows_in', 'rows in'], ['rows_out', 'rows out'], ['in_per_s', 'in per second'], ['out_per_s', 'out per second'],
  ['dedup_drops', 'duplicates dropped'], ['late_rows', 'late rows dropped'], ['join_matches', 'join matches'],
  ['join_expired', 'join rows expired'], ['join_waiting', 'waiting for a partner'], ['state_entries', 'state entries'],
  ['state_bytes', 'state size', bytes], ['busy', 'busy (share of a core)', (v) => pct(v)],
  ['busy_ms', 'time spent', (v) => ms(v)], ['queue_fill', 'input queue', (v) => Math.round(v * 100) + '%'],
  ['lag', 'lag (records)'], ['watermark', 'watermark', (v) => v], ['watermark_delay_ms', 'watermark behind now', ms],
  ['batch_rows', 'last batch (rows)'], ['latency_ms', 'last write', (v) => v.toFixed(2) + ' ms'], ['mean_latency_ms', 'mean write', (v) => v.toFixed(2) + ' ms'],
];

function NodePanel({ node, live, why }) {
  if (!node) return html`<div class="nodepanel muted">Click a node to see its counters and the SQL it comes from.</div>`;
  return html`<div class="nodepanel" data-node=${node.id}>
    <h4>${node.title}</h4>
    ${why ? html`<div class="why">${why}</div>` : null}
    <table>${counterRows.filter(([k]) => live && live[k] !== undefined && live[k] !== null).map(([k, label, f]) => html`<tr><th>${label}</th><td data-counter=${k}>${f ? f(live[k]) : num(live[k])}</td></tr>`)}</table>
    ${(node.details || []).length ? html`<ul class="details">${node.details.map((d) => html`<li>${d}</li>`)}</ul>` : null}
  </div>`;
}

class TailRun extends PreviewRun {
  constructor(name) { super({ pipeline: name }, `rows written by ${name}`); this.name = name; }
  start() {
    this.ws = openSocket(`/api/v1/pipelines/${enc(this.name)}/tail`, {
      message: (m) => this.message(m),
      close: () => { if (this.live()) { this.finish('ended'); this.reason = this.reason || 'closed'; } this.changed(); },
    });
    this.tick = setInterval(() => { if (this.live()) this.changed(); }, 500);
  }
}

function Output({ name }) {
  const [run, setRun] = useState(null);
  const [, setV] = useState(0);
  useEffect(() => {
    const r = new TailRun(name);
    r.start();
    setRun(r);
    const un = r.subscribe(setV);
    return () => { un(); r.stop(); };
  }, [name]);
  if (!run) return null;
  return html`<div class="output">
    <div class="pbar"><span class=${'badge ' + run.status}>${run.status === 'running' ? 'tailing' : run.status}</span>
      <span class="count" data-total=${run.total}><b>${num(run.total)}</b> rows written since this page opened</span>
      <span class="grow"></span>
      ${run.live() ? (run.paused ? html`<button onClick=${() => run.resume()}>Resume</button>` : html`<button onClick=${() => run.pause()}>Pause</button>`) : null}</div>
    ${run.columns ? html`<${Grid} run=${run} />` : html`<div class="empty">waiting for the sink's next write…</div>`}
  </div>`;
}

function DeadLetters({ name }) {
  const [data, setData] = useState(null);
  usePoll(async (stopped) => {
    const d = await getJSON(`/api/v1/pipelines/${enc(name)}/dead_letters?limit=50`);
    if (!stopped() && d) setData(d);
  }, 3000, [name]);
  if (!data) return html`<div class="empty">reading the dead-letter topics…</div>`;
  const rows = [];
  for (const s of data.sources) for (const d of s.letters) rows.push({ ...d, source: s.source });
  rows.sort((a, b) => (a.time < b.time ? 1 : -1));
  const notes = data.sources.filter((s) => s.error || !s.supported);
  return html`<div class="deadletters">
    ${notes.map((s) => html`<div class=${s.error ? 'bad' : 'muted'}>${s.source}: ${s.error || `the ${s.connector} connector keeps no dead letters`}</div>`)}
    ${rows.length === 0 ? html`<div class="empty">No dead letters: every record decoded.</div>` : html`
    <table class="dl">
      <colgroup><col class="t" /><col class="s" /><col class="p" /><col class="o" /><col /><col class="v" /></colgroup>
      <thead><tr><th>time</th><th>source</th><th class="n">partition</th><th class="n">offset</th><th>reason</th><th>value</th></tr></thead>
      <tbody>${rows.map((d) => html`<tr class="dlrow" data-partition=${d.partition} data-offset=${d.offset}>
        <td>${new Date(d.time).toLocaleTimeString()}</td><td>${d.source}</td><td class="n">${d.partition}</td><td class="n">${d.offset}</td>
        <td class="reason">${d.reason}</td><td class="value" title=${d.value}>${d.value}${d.truncated ? '…' : ''}</td></tr>`)}</tbody>
    </table>`}
  </div>`;
}

export function PipelinePage({ name, onOpen }) {
  const [obj, setObj] = useState(null);
  const [graph, setGraph] = useState(null);
  const [live, setLive] = useState(null);
  const [selected, setSelected] = useState(-1);
  const [tab, setTab] = useState('output');
  const [gone, setGone] = useState('');
  usePoll(async (stopped) => {
    const r = await call('GET', `/api/v1/pipelines/${enc(name)}`);
    if (stopped()) return;
    if (r.status === 404) { setGone(`pipeline ${name} does not exist (any more)`); return; }
    if (r.ok) setObj(r.data);
  }, 2000, [name]);
  // The graph changes when the pipeline is replaced: fetch it again then.
  const updated = obj && obj.updated;
  useEffect(() => {
    let stop = false;
    getJSON(`/api/v1/pipelines/${enc(name)}/graph`).then((g) => {
      if (stop || !g) return;
      g.layout = layout(g);
      setGraph(g);
    });
    return () => { stop = true; };
  }, [name, updated]);
  useEffect(() => {
    let ws = null, stop = false, timer = 0;
    const connect = () => {
      ws = openSocket(`/api/v1/pipelines/${enc(name)}/live`, {
        message: (m) => { if (m.type === 'stats') setLive(m); if (m.type === 'end') setGone(`pipeline ${name} was dropped`); },
        close: () => { if (!stop) timer = setTimeout(connect, 2000); },
      });
    };
    connect();
    return () => { stop = true; clearTimeout(timer); if (ws) ws.close(); };
  }, [name]);
  if (gone) return html`<div class="monitor"><div class="empty">${gone}. <a href="#/pipelines">All pipelines</a></div></div>`;
  if (!obj || !graph) return html`<div class="monitor"><div class="empty">loading…</div></div>`;
  const node = graph.nodes.find((n) => n.id === selected);
  const liveNode = live && live.nodes.find((n) => n.id === selected);
  const m = obj.metrics;
  const state = (live && live.state) || obj.state;
  return html`<div class="monitor pipeline-page" data-pipeline=${obj.name}>
    <div class="phead">
      <a href="#/pipelines" class="muted">Pipelines</a> <span class="muted">/</span>
      <h2>${obj.name}</h2>
      <span class=${'state ' + state} data-state=${state}>${state}</span>
      ${obj.since && state === 'running' ? html`<span class="muted" title=${obj.since}>since ${new Date(obj.since).toLocaleTimeString()}</span>` : null}
      <span class="grow"></span>
      <${Actions} p=${{ ...obj, state }} onOpen=${onOpen} />
    </div>
    ${state === 'failed' && obj.error ? html`<div class="perror">${obj.error}</div>` : null}
    <${TaskLine} p=${obj} />
    ${(obj.warnings || []).map((w) => html`<div class="pwarn">⚠ ${w}</div>`)}
    <div class="summary">
      ${m ? html`
        <span><b>${num(m.records_in)}</b> read</span><span><b>${num(m.rows_written)}</b> written</span>
        <span><b>${m.lag < 0 ? '?' : num(m.lag)}</b> lag</span><span><b>${num(m.dedup_dropped)}</b> dups dropped</span>
        <span class=${m.dead_lettered ? 'warn' : ''}><b>${num(m.dead_lettered)}</b> dead letters</span>
        <span>checkpoint <b>${ago(m.checkpoint_age_s)}</b></span>` : html`<span class="muted">not running: no counters</span>`}
      <${Sparkline} history=${obj.history} w=${180} />
      ${live && live.bottleneck >= 0 ? html`<span class="bneck" title=${live.bottleneck_reason}>${live.saturated ? 'bottleneck' : 'busiest'}: <b>${(graph.nodes.find((n) => n.id === live.bottleneck) || {}).title}</b> — ${live.bottleneck_reason}</span>` : null}
    </div>
    <div class="graphbox"><${GraphView} graph=${graph} live=${live} selected=${selected} onSelect=${(id) => setSelected(id === selected ? -1 : id)} /></div>
    <div class="lower">
      <div class="sqlbox">
        <div class="boxhead">SQL ${graph.span_error ? html`<span class="muted">— ${graph.span_error}</span>` : node ? html`<span class="muted">— ${node.title} is marked</span>` : html`<span class="muted">— click a node to mark its part</span>`}</div>
        <${SQLView} text=${graph.sql} span=${node && node.span} />
      </div>
      <${NodePanel} node=${node} live=${liveNode} why=${node && live && live.bottleneck === node.id ? live.bottleneck_reason : ''} />
      <div class="tabbed">
        <div class="docktabs">
          <button class=${'docktab' + (tab === 'output' ? ' active' : '')} data-tab="output" onClick=${() => setTab('output')}>Output</button>
          <button class=${'docktab' + (tab === 'dead' ? ' active' : '')} data-tab="dead" onClick=${() => setTab('dead')}>Dead letters${m && m.dead_lettered ? html` <span class="count-badge">${num(m.dead_lettered)}</span>` : ''}</button>
        </div>
        ${tab === 'output' ? html`<${Output} name=${obj.name} />` : html`<${DeadLetters} name=${obj.name} />`}
      </div>
    </div>
  </div>`;
}
