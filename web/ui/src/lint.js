// Diagnostics as you type: the script is validated by the server (POST
// /api/v1/validate, as `sluice validate` does) shortly after the last key,
// and every error is underlined over its range with its hint and fixes.
import { linter } from '@codemirror/lint';
import { Text } from '@codemirror/state';
import { call } from './api.js';
import { toOffset } from './positions.js';
import { tokenize } from './script.js';

// toDiagnostics converts API diagnostics (positions in code points of
// `submitted`, which starts at document offset `base`) to CodeMirror
// diagnostics in doc.
export function toDiagnostics(doc, list, base = 0, submitted = null) {
  const src = submitted === null ? doc : Text.of(submitted.split('\n'));
  const at = (line, column) => Math.min(doc.length, base + toOffset(src, line, column));
  return (list || []).map((d) => {
    const from = at(d.line || 1, d.column || 1);
    let to = d.end_line ? at(d.end_line, d.end_column) : from;
    if (to <= from) to = wordEnd(doc, from);
    const diag = {
      from,
      to,
      severity: d.severity === 'warning' ? 'warning' : 'error',
      source: 'sluice',
      message: d.message + (d.hint ? '\nhint: ' + d.hint : ''),
      renderMessage: () => render(d),
      api: d,
    };
    if (d.fixes && d.fixes.length) {
      diag.actions = d.fixes.map((f) => {
        const ff = at(f.from.line, f.from.column);
        const ft = at(f.to.line, f.to.column);
        return {
          name: f.title || `Replace with ${f.insert}`,
          // The diagnostic may have moved with edits since: apply the fix
          // at the same place relative to it.
          apply(view, dfrom) {
            const shift = dfrom - from;
            view.dispatch({ changes: { from: ff + shift, to: ft + shift, insert: f.insert }, userEvent: 'input.fix' });
          },
        };
      });
    }
    return diag;
  });
}

// wordEnd extends an empty range to the end of the word (or one character).
function wordEnd(doc, from) {
  if (from >= doc.length) return from;
  const line = doc.lineAt(from);
  const rest = line.text.slice(from - line.from);
  const m = /^[\w$\u0080-\uffff]+/.exec(rest);
  if (m) return from + m[0].length;
  return Math.min(line.to, from + 1);
}

function render(d) {
  const el = document.createElement('div');
  el.className = 'cm-sluice-diag';
  const msg = document.createElement('div');
  msg.textContent = d.message;
  el.appendChild(msg);
  if (d.hint) {
    const hint = document.createElement('div');
    hint.className = 'cm-sluice-hint';
    hint.textContent = 'hint: ' + d.hint;
    el.appendChild(hint);
  }
  return el;
}

// sluiceLinter validates the whole script shortly after typing stops.
// onResult receives each answer: {ok, count, more, error}.
export function sluiceLinter(onResult, delay = 150) {
  return linter(async (view) => {
    const doc = view.state.doc;
    const text = doc.toString();
    if (!tokenize(text).some((t) => t.t !== 'comment')) { onResult(null); return []; }
    let r;
    try {
      r = await call('POST', '/api/v1/validate?mode=apply', text);
    } catch (err) {
      onResult({ ok: false, error: err.message });
      return [];
    }
    // An answer for a text since edited is dropped: the edit brings its own.
    if (view.state.doc !== doc) return [];
    if (r.status === 422 && r.data && r.data.errors) {
      onResult({ ok: false, count: r.data.errors.length, more: r.data.more || 0 });
      return toDiagnostics(doc, r.data.errors);
    }
    if (r.ok) {
      onResult({ ok: true, count: 0, plans: r.data && r.data.plans, statements: r.data && r.data.statements });
      return [];
    }
    onResult({ ok: false, error: (r.data && r.data.error) || `validate: HTTP ${r.status}` });
    return [];
  }, { delay });
}
