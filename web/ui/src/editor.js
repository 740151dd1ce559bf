// The CodeMirror editor: the Sluice SQL dialect, completion, diagnostics
// as you type, WITH (…) option highlighting and the page's shortcuts.
import { EditorState, Prec, RangeSetBuilder } from '@codemirror/state';
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
  dropCursor, highlightSpecialChars, rectangularSelection, ViewPlugin, Decoration,
} from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { syntaxHighlighting, HighlightStyle, indentOnInput, bracketMatching } from '@codemirror/language';
import { autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap } from '@codemirror/autocomplete';
import { lintGutter, lintKeymap, diagnosticCount } from '@codemirror/lint';
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search';
import { sql } from '@codemirror/lang-sql';
import { tags as t } from '@lezer/highlight';
import { Sluice } from './dialect.js';
import { sluiceCompletion } from './complete.js';
import { sluiceLinter } from './lint.js';
import { tokenize, withGroups } from './script.js';

// Colours come from CSS variables, so one style serves the light and the
// dark theme (style.css switches them with prefers-color-scheme).
export const highlight = HighlightStyle.define([
  { tag: t.keyword, color: 'var(--hl-keyword)', fontWeight: '600' },
  { tag: [t.typeName], color: 'var(--hl-type)' },
  { tag: [t.standard(t.name), t.function(t.variableName)], color: 'var(--hl-function)' },
  { tag: [t.string, t.special(t.string)], color: 'var(--hl-string)' },
  { tag: [t.number, t.bool, t.null], color: 'var(--hl-number)' },
  { tag: [t.lineComment, t.blockComment, t.comment], color: 'var(--hl-comment)', fontStyle: 'italic' },
  { tag: [t.operator, t.punctuation], color: 'var(--hl-operator)' },
  { tag: t.special(t.name), color: 'var(--hl-quoted)' },
]);

export const theme = EditorView.theme({
  '&': { height: '100%', backgroundColor: 'var(--editor-bg)', color: 'var(--fg)' },
  '.cm-content': { fontFamily: 'var(--mono)', caretColor: 'var(--fg)' },
  '.cm-gutters': { backgroundColor: 'var(--editor-bg)', color: 'var(--muted)', border: 'none' },
  '.cm-activeLine': { backgroundColor: 'var(--active-line)' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--active-line)' },
  '&.cm-focused .cm-cursor': { borderLeftColor: 'var(--fg)' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection': { backgroundColor: 'var(--selection) !important' },
  '.cm-tooltip': { backgroundColor: 'var(--panel)', color: 'var(--fg)', border: '1px solid var(--border)' },
  '.cm-tooltip-autocomplete > ul > li[aria-selected]': { backgroundColor: 'var(--accent)', color: 'var(--accent-fg)' },
  '.cm-completionDetail': { color: 'var(--muted)', fontStyle: 'normal', marginLeft: '1em' },
  '.cm-sluice-option, .cm-sluice-option *': { color: 'var(--hl-option) !important' },
});

// WITH ( … ) option names get their own colour.
const optionMark = Decoration.mark({ class: 'cm-sluice-option' });
function optionDecorations(doc) {
  const b = new RangeSetBuilder();
  for (const g of withGroups(tokenize(doc.toString()))) {
    for (const o of g.options) b.add(o.from, o.to, optionMark);
  }
  return b.finish();
}
const optionHighlighter = ViewPlugin.fromClass(class {
  constructor(view) { this.decorations = optionDecorations(view.state.doc); }
  update(u) { if (u.docChanged) this.decorations = optionDecorations(u.state.doc); }
}, { decorations: (v) => v.decorations });

// metrics: when the last key went down and when the first underline after
// it was drawn, for measuring the feedback loop in a browser.
export const metrics = { lastKey: 0, firstUnderline: 0, latencies: [] };

const measure = [
  Prec.highest(EditorView.domEventObservers({ keydown() { metrics.lastKey = performance.now(); } })),
  EditorView.updateListener.of((u) => {
    const before = diagnosticCount(u.startState);
    const after = diagnosticCount(u.state);
    if (before === 0 && after > 0 && metrics.lastKey) {
      const key = metrics.lastKey;
      requestAnimationFrame(() => {
        metrics.firstUnderline = performance.now();
        metrics.latencies.push(metrics.firstUnderline - key);
      });
    }
  }),
];

// extensions builds an editor state's extensions. hooks: getCatalog,
// preview(view), apply(view), changed(update), validated(result).
export function extensions(hooks) {
  return [
    Prec.highest(keymap.of([
      { key: 'Mod-Enter', run: (v) => { hooks.preview(v); return true; } },
      { key: 'Mod-s', run: (v) => { hooks.apply(v); return true; }, preventDefault: true },
    ])),
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    dropCursor(),
    EditorState.allowMultipleSelections.of(true),
    indentOnInput(),
    syntaxHighlighting(highlight),
    bracketMatching(),
    closeBrackets(),
    rectangularSelection(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    sql({ dialect: Sluice, upperCaseKeywords: true }),
    autocompletion({ override: [sluiceCompletion(hooks.getCatalog)], icons: true }),
    sluiceLinter(hooks.validated),
    lintGutter(),
    optionHighlighter,
    theme,
    measure,
    EditorView.updateListener.of(hooks.changed),
    keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap, indentWithTab]),
  ];
}
