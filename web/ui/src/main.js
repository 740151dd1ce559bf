// The Sluice editor page: tabs of scripts kept in browser storage, the
// catalog browser, completion and diagnostics as you type, preview on live
// data and apply.
import { h, render, Component, createRef } from 'preact';
import htm from 'htm';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { forEachDiagnostic, setDiagnostics } from '@codemirror/lint';
import { call, getJSON, onUnauthorized } from './api.js';
import { extensions, metrics } from './editor.js';
import { toDiagnostics } from './lint.js';
import { toOffset, toLineColumn } from './positions.js';
import { statementAt, selectOf, tokenize } from './script.js';
import { PreviewPane, PreviewRun } from './preview.js';
import { PipelinesPage, PipelinePage, taskSummary } from './monitor.js';
import './style.css';

const html = htm.bind(h);
const mac = /Mac|iPhone|iPad/.test(navigator.platform);
const mod = mac ? '⌘' : 'Ctrl';
const STORE = 'sluice.editor.v1';
const welcome = `-- A Sluice script: CREATE SOURCE / SINK / PIPELINE statements and SELECTs.
-- ${mod}-Enter previews the statement under the cursor; ${mod}-S applies the script.
-- The catalog on the left opens any object's SQL into a tab.

`;

const store = {
  catalog: { sources: [], sinks: [], pipelines: [], functions: [], connectors: [] },
  tabs: [],
  active: '',
  dock: 'problems',
  problems: [],
  validation: null,
  applying: false,
  applied: null,
  run: null,
  ended: false,
  auth: false,
  cursor: { line: 1, column: 1 },
  route: routeOf(location.hash),
};

// The pages: #/ the editor, #/pipelines the pipelines, #/pipelines/NAME one.
function routeOf(hash) {
  const m = /^#\/pipelines(?:\/(.+))?$/.exec(hash || '');
  if (!m) return { page: 'editor' };
  return m[1] ? { page: 'pipeline', name: decodeURIComponent(m[1]) } : { page: 'pipelines' };
}
addEventListener('hashchange', () => update({ route: routeOf(location.hash) }));

// openInEditor opens a pipeline's SQL in a tab and shows the editor.
function openInEditor(obj) {
  location.hash = '#/';
  openObject(obj);
}

let scheduled = false;
function update(patch) {
  Object.assign(store, patch || {});
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => { scheduled = false; render(html`<${App} />`, document.getElementById('app')); });
}

// ---- tabs, kept in localStorage ----

const states = new Map(); // tab id → EditorState
let view = null;
let saveTimer = 0;

function loadTabs() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE));
    if (saved && Array.isArray(saved.tabs) && saved.tabs.length) {
      store.tabs = saved.tabs.map((t) => ({ id: String(t.id), name: String(t.name || 'script'), text: String(t.text || '') }));
      store.active = store.tabs.some((t) => t.id === saved.active) ? saved.active : store.tabs[0].id;
      return;
    }
  } catch { /* a bad entry starts over */ }
  store.tabs = [{ id: newId(), name: 'script 1', text: welcome }];
  store.active = store.tabs[0].id;
}

function newId() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 6); }

function saveTabs() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(saveNow, 300);
}

function saveNow() {
  clearTimeout(saveTimer);
  if (view) states.set(store.active, view.state);
  for (const t of store.tabs) {
    const st = states.get(t.id);
    if (st) t.text = st.doc.toString();
  }
  try { localStorage.setItem(STORE, JSON.stringify({ tabs: store.tabs, active: store.active })); } catch { /* storage full or off */ }
}
addEventListener('beforeunload', saveNow);

const hooks = {
  getCatalog: () => store.catalog,
  preview: () => previewAtCursor(),
  apply: () => applyScript(),
  changed(u) {
    if (u.docChanged) saveTabs();
    if (u.selectionSet || u.docChanged) {
      const c = toLineColumn(u.state.doc, u.state.selection.main.head);
      if (c.line !== store.cursor.line || c.column !== store.cursor.column) update({ cursor: c });
    }
    refreshProblems(u.state);
  },
  validated(result) { update({ validation: result }); },
};

function stateFor(tab) {
  let st = states.get(tab.id);
  if (!st) {
    st = EditorState.create({ doc: tab.text, extensions: extensions(hooks) });
    states.set(tab.id, st);
  }
  return st;
}

function switchTab(id) {
  if (view) states.set(store.active, view.state);
  const tab = store.tabs.find((t) => t.id === id);
  if (!tab) return;
  store.active = id;
  if (view) {
    view.setState(stateFor(tab));
    refreshProblems(view.state);
    view.focus();
  }
  saveTabs();
  update();
}

function newTab(name, text) {
  if (view) states.set(store.active, view.state);
  const tab = { id: newId(), name, text };
  store.tabs.push(tab);
  switchTab(tab.id);
  return tab;
}

function closeTab(id) {
  const i = store.tabs.findIndex((t) => t.id === id);
  if (i < 0) return;
  store.tabs.splice(i, 1);
  states.delete(id);
  if (!store.tabs.length) store.tabs.push({ id: newId(), name: 'script 1', text: welcome });
  if (store.active === id || !store.tabs.some((t) => t.id === store.active)) {
    store.active = '';
    switchTab(store.tabs[Math.min(i, store.tabs.length - 1)].id);
  } else {
    saveTabs();
    update();
  }
}

function renameTab(id) {
  const tab = store.tabs.find((t) => t.id === id);
  const name = tab && prompt('Name of the tab', tab.name);
  if (name) { tab.name = name.trim() || tab.name; saveTabs(); update(); }
}

// openObject opens a catalog object's SQL into a tab of its own.
function openObject(obj) {
  const existing = store.tabs.find((t) => t.name === obj.name);
  if (existing) return switchTab(existing.id);
  let text = (obj.sql || '').trim();
  if (text && !text.endsWith(';')) text += ';';
  newTab(obj.name, text + '\n');
}

// ---- problems: the diagnostics of the current tab ----

let problemsSig = '';
function refreshProblems(state) {
  const list = [];
  forEachDiagnostic(state, (d, from, to) => list.push({ d, from, to }));
  const sig = list.map((p) => `${p.from}:${p.to}:${p.d.message}`).join('|');
  if (sig === problemsSig) return;
  problemsSig = sig;
  update({ problems: list });
}

function jumpTo(from, to) {
  view.dispatch({ selection: { anchor: from, head: to }, scrollIntoView: true });
  view.focus();
}

// ---- catalog ----

async function refreshCatalog() {
  try {
    const [sources, sinks, pipelines] = await Promise.all([getJSON('/api/v1/sources'), getJSON('/api/v1/sinks'), getJSON('/api/v1/pipelines')]);
    const catalog = { ...store.catalog, sources: sources || [], sinks: sinks || [], pipelines: pipelines || [] };
    if (!catalog.functions.length) catalog.functions = ((await getJSON('/api/v1/functions')) || {}).functions || [];
    if (!catalog.connectors.length) catalog.connectors = ((await getJSON('/api/v1/connectors')) || {}).connectors || [];
    update({ catalog });
  } catch { /* the next refresh tries again */ }
}

// ---- preview ----

function previewAtCursor() {
  const doc = view.state.doc;
  const text = doc.toString();
  const stmt = statementAt(text, view.state.selection.main.head);
  const sel = stmt && selectOf(stmt);
  if (!sel) {
    update({ dock: 'preview', run: null, notice: 'Put the cursor in a SELECT or a CREATE PIPELINE to preview it.' });
    return;
  }
  const sqlText = text.slice(sel.from, sel.to);
  startPreview({ sql: sqlText }, sel.pipeline ? `pipeline ${sel.pipeline} (its SELECT, sink not written)` : sqlText.replace(/\s+/g, ' '), sel.from, sqlText, store.active);
}

export function previewPipeline(name) {
  startPreview({ pipeline: name }, `pipeline ${name} (its SELECT, sink not written)`, -1, null, null);
}

function startPreview(request, label, base, submitted, tabId) {
  if (store.run) store.run.stop();
  const run = new PreviewRun(request, label);
  run.onError = (m) => {
    if (base < 0 || !m.errors || !m.errors.length || tabId !== store.active) return;
    const diags = toDiagnostics(view.state.doc, m.errors, base, submitted);
    view.dispatch(setDiagnostics(view.state, diags));
  };
  run.start();
  update({ run, dock: 'preview', notice: '' });
}

// ---- apply ----

async function applyScript() {
  const doc = view.state.doc;
  const text = doc.toString();
  if (!tokenize(text).some((t) => t.t !== 'comment')) {
    update({ dock: 'apply', applied: { error: 'the script is empty' } });
    return;
  }
  update({ applying: true, dock: 'apply' });
  let r;
  try {
    r = await call('POST', '/api/v1/scripts?mode=apply', text);
  } catch (err) {
    update({ applying: false, applied: { error: err.message } });
    return;
  }
  if (r.status === 422 && r.data && r.data.errors) {
    if (view.state.doc === doc) view.dispatch(setDiagnostics(view.state, toDiagnostics(doc, r.data.errors)));
    update({ applying: false, applied: { error: r.data.error, errors: r.data.errors, more: r.data.more } });
    return;
  }
  if (!r.ok) {
    update({ applying: false, applied: { error: (r.data && r.data.error) || `HTTP ${r.status}` } });
    return;
  }
  // What the last validation foresaw has now happened: the status line no
  // longer announces restarts.
  const validation = store.validation && { ...store.validation, statements: [] };
  update({ applying: false, applied: { statements: r.data.statements || [], at: new Date() }, validation });
  refreshCatalog();
}

function statementText(st) {
  const what = `${st.kind || 'statement'} ${st.name || st.index + 1}`;
  let how = st.action;
  if (st.restarted) how += st.state_kept ? ' (restarted, state kept)' : ' (restarted; state starts empty from the committed offsets)';
  else if (st.kind === 'pipeline' && st.action === 'replaced') how += ' (not running: nothing restarted)';
  return { what, how };
}

// ---- the page ----

function Catalog() {
  const c = store.catalog;
  const item = (o, kind) => html`<li class=${'obj ' + kind} data-name=${o.name}>
      <button class="open" title=${'open the SQL of ' + o.name + ' in a tab'} onClick=${() => openObject(o)}>${o.name}</button>
      ${kind === 'pipeline' ? html`<span class=${'state ' + (o.state || '')} title=${o.error || o.state}>${o.state || ''}</span>
        <button class="mini" title=${'preview what ' + o.name + ' would write, without writing its sink'} onClick=${() => previewPipeline(o.name)}>▶</button>
        <a class="mini watch" href=${'#/pipelines/' + encodeURIComponent(o.name)} title=${'watch ' + o.name + ' run: its graph, counters, output and dead letters'}>graph</a>` : null}
      ${kind !== 'pipeline' && o.connector ? html`<span class="conn">${o.connector}</span>` : null}
    </li>`;
  const section = (title, list, kind) => html`<section>
      <h3>${title} <span class="n">${list.length}</span></h3>
      <ul>${list.map((o) => item(o, kind))}</ul>
    </section>`;
  return html`<aside class="catalog">
    ${section('Sources', c.sources, 'source')}
    ${section('Sinks', c.sinks, 'sink')}
    ${section('Pipelines', c.pipelines, 'pipeline')}
  </aside>`;
}

function Tabs() {
  return html`<div class="tabs" role="tablist">
    ${store.tabs.map((t) => html`<div role="tab" aria-selected=${t.id === store.active} class=${'tab' + (t.id === store.active ? ' active' : '')}
        onClick=${() => t.id !== store.active && switchTab(t.id)} onDblClick=${() => renameTab(t.id)} title="double-click to rename">
        <span>${t.name}</span><button class="x" title="close" onClick=${(e) => { e.stopPropagation(); closeTab(t.id); }}>×</button></div>`)}
    <button class="newtab" title="new script" onClick=${() => newTab('script ' + (store.tabs.length + 1), '')}>+</button>
  </div>`;
}

class EditorHost extends Component {
  constructor() {
    super();
    this.box = createRef();
  }
  componentDidMount() {
    const tab = store.tabs.find((t) => t.id === store.active);
    view = new EditorView({ state: stateFor(tab) });
    this.box.current.appendChild(view.dom);
    window.sluice.view = view;
    view.focus();
  }
  shouldComponentUpdate() { return false; }
  render() { return html`<div class="editor" ref=${this.box}></div>`; }
}

function Problems() {
  if (!store.problems.length) {
    const v = store.validation;
    return html`<div class="empty">${v && v.error ? 'Checking failed: ' + v.error : 'No problems: the script checks against the live catalog as you type.'}</div>`;
  }
  return html`<ul class="problems">${store.problems.map((p) => {
    const at = toLineColumn(view.state.doc, p.from);
    const api = p.d.api || {};
    return html`<li class=${'problem ' + p.d.severity}>
      <button class="loc" onClick=${() => jumpTo(p.from, p.to)}>${at.line}:${at.column}</button>
      <span class="msg">${api.message || p.d.message}${api.hint ? html`<span class="hint"> — ${api.hint}</span>` : null}</span>
      ${(p.d.actions || []).map((a) => html`<button class="fix" onClick=${() => a.apply(view, p.from, p.to)}>${a.name}</button>`)}
    </li>`;
  })}</ul>`;
}

function Applied() {
  const a = store.applied;
  if (store.applying) return html`<div class="empty">applying…</div>`;
  if (!a) return html`<div class="empty">${mod}-S applies the script as <code>sluice apply</code> does: every statement is checked first, and nothing changes when any is wrong.</div>`;
  if (a.error) {
    return html`<div class="applied failed"><div class="perror">${a.error}</div>
      ${a.errors ? html`<ul class="problems">${a.errors.map((e) => html`<li class="problem error"><button class="loc" onClick=${() => { const o = toOffset(view.state.doc, e.line, e.column); jumpTo(o, o); }}>${e.line}:${e.column}</button><span class="msg">${e.message}${e.hint ? html`<span class="hint"> — ${e.hint}</span>` : null}</span></li>`)}</ul>` : null}</div>`;
  }
  const changed = a.statements.filter((st) => ['created', 'replaced', 'dropped', 'started', 'stopped'].includes(st.action)).length;
  const unchanged = a.statements.filter((st) => st.action === 'unchanged').length;
  return html`<div class="applied ok"><div class="muted">applied at ${a.at.toLocaleTimeString()}: ${changed} changed, ${unchanged} unchanged</div>
    <ul class="results">${a.statements.map((st) => {
      const { what, how } = statementText(st);
      return html`<li class=${'result ' + st.action} data-name=${st.name || ''} data-action=${st.action}>
        <span class=${'badge ' + st.action}>${st.action}</span> <b>${what}</b> ${how !== st.action ? how.slice(st.action.length) : ''}
        ${st.notice ? html`<span class="muted"> — ${st.notice}</span>` : null}
        ${st.kind === 'pipeline' && ['created', 'replaced', 'started'].includes(st.action) ? html` <a class="watch" href=${'#/pipelines/' + encodeURIComponent(st.name)}>watch it run</a>` : null}
        ${(st.also || []).map((x) => html`<div class="muted">also: ${x}</div>`)}
      </li>`;
    })}</ul></div>`;
}

function Dock() {
  const tab = (id, label) => html`<button class=${'docktab' + (store.dock === id ? ' active' : '')} data-dock=${id} onClick=${() => update({ dock: id })}>${label}</button>`;
  const n = store.problems.length;
  return html`<div class="dock">
    <div class="docktabs">
      ${tab('problems', html`Problems${n ? html` <span class="count-badge">${n}</span>` : ''}`)}
      ${tab('preview', 'Preview')}
      ${tab('apply', 'Apply')}
    </div>
    <div class="dockbody">
      ${store.dock === 'problems' ? html`<${Problems} />` : null}
      ${store.dock === 'preview' ? (store.notice ? html`<div class="empty">${store.notice}</div>` : html`<${PreviewPane} run=${store.run} />`) : null}
      ${store.dock === 'apply' ? html`<${Applied} />` : null}
    </div>
  </div>`;
}

// Restarts says, before applying, which running pipelines the script would
// restart and whether each keeps its state (the validate answer knows).
function Restarts() {
  const v = store.validation;
  const list = ((v && v.ok && v.statements) || []).filter((st) => st.restarted);
  if (!list.length) return null;
  return html`<span class="restarts">${list.map((st) => html`<span class=${'restart ' + (st.state_kept ? 'kept' : 'lost')} data-name=${st.name} data-state-kept=${String(!!st.state_kept)}
      title=${st.state_kept ? 'its dedup, join and window state carries over' : 'its plan changed where it keeps state: dedup, join and window state start empty, reading from the committed offsets'}>
      apply restarts ${st.name}: ${st.state_kept ? 'state kept' : 'state starts empty'}</span>`)}</span>`;
}

function Nav() {
  const r = store.route.page;
  return html`<nav class="pages">
    <a href="#/" class=${r === 'editor' ? 'active' : ''} data-page="editor">Editor</a>
    <a href="#/pipelines" class=${r !== 'editor' ? 'active' : ''} data-page="pipelines">Pipelines</a>
  </nav>`;
}

function App() {
  const v = store.validation;
  const r = store.route;
  const check = !v ? '' : v.error ? 'not checked' : v.ok ? '✓ checks' : `${v.count + (v.more || 0)} error${v.count + (v.more || 0) === 1 ? '' : 's'}`;
  return html`<div class="app">
    <header>
      <span class="logo">Sluice</span>
      <${Nav} />
      ${r.page === 'editor' ? html`<button class="primary" data-action="preview" onClick=${() => previewAtCursor()} title=${mod + '-Enter: preview the statement under the cursor'}>Preview <kbd>${mod}-↵</kbd></button>
      <button class="primary" data-action="apply" disabled=${store.applying} onClick=${() => applyScript()} title=${mod + '-S: apply the script'}>Apply <kbd>${mod}-S</kbd></button>` : null}
      <span class="grow"></span>
      ${store.auth ? html`<button class="logout" onClick=${logout} title="end this browser's session">Log out</button>` : null}
      <a href="/api/v1/openapi.json" target="_blank" rel="noopener">API</a>
      <a href="/metrics" target="_blank" rel="noopener">metrics</a>
    </header>
    ${r.page === 'pipelines' ? html`<${PipelinesPage} onOpen=${openInEditor} />` : null}
    ${r.page === 'pipeline' ? html`<${PipelinePage} key=${r.name} name=${r.name} onOpen=${openInEditor} />` : null}
    <div class="main" style=${r.page === 'editor' ? '' : 'display: none'}>
      <${Catalog} />
      <section class="work">
        <${Tabs} />
        <${EditorHost} />
        <div class="statusline"><span class=${'check ' + (v && !v.ok ? 'bad' : 'good')}>${check}</span><${Restarts} /><span class="grow"></span><span>${store.cursor.line}:${store.cursor.column}</span></div>
        <${Dock} />
      </section>
    </div>
    ${store.ended ? html`<div class="overlay"><div class="dialog"><p>The session ended (the server's token is needed again).</p><button class="primary" onClick=${() => location.reload()}>Log in</button></div></div>` : null}
  </div>`;
}

// With a token on the server the page runs on a session cookie: a call
// without it is refused, and then the page offers to log out.
async function probeAuth() {
  try {
    const r = await fetch('/api/v1/connectors', { credentials: 'omit' });
    update({ auth: r.status === 401 });
  } catch { /* offline: nothing to offer */ }
}

async function logout() {
  saveNow();
  try { await fetch('/api/v1/session', { method: 'DELETE', credentials: 'same-origin' }); } catch { /* reload anyway */ }
  location.reload();
}

// A 401 means the session cookie is gone or the token changed: the page
// reloads, and the server answers with its login page. A guard keeps a
// server that keeps refusing from reloading in a loop.
onUnauthorized(() => {
  if (store.ended) return;
  saveNow();
  const last = Number(sessionStorage.getItem('sluice.reloaded') || 0);
  if (Date.now() - last > 10000) {
    sessionStorage.setItem('sluice.reloaded', String(Date.now()));
    location.reload();
    return;
  }
  update({ ended: true });
});

addEventListener('keydown', (e) => {
  // Outside the editor too: the browser's "save page" is never wanted here.
  if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); if (view && !view.hasFocus) applyScript(); }
});

// For tests and the curious: the editor, its diagnostics and timings.
window.sluice = {
  metrics, view: null, store, toOffset, taskSummary,
  diagnostics() {
    const out = [];
    forEachDiagnostic(view.state, (d, from, to) => out.push({ from, to, text: view.state.sliceDoc(from, to), message: d.message, severity: d.severity, actions: (d.actions || []).map((a) => a.name) }));
    return out;
  },
};
loadTabs();
update();
refreshCatalog();
probeAuth();
setInterval(refreshCatalog, 5000);
