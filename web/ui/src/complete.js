// Completion from the live catalog and from the script being edited.
import { tokenize, statements, withGroups, aliases, scriptObjects } from './script.js';
import { keywords, units, typeNames } from './dialect.js';

const word = /[\w$\u0080-\uffff]*$/;

// objectsFor merges the catalog's objects with those the script creates
// (the script's own definitions win: they are what will apply).
export function objectsFor(catalog, text) {
  const byName = new Map();
  const add = (kind, o, fromScript) => byName.set(o.name.toLowerCase(), { kind, fromScript, ...o });
  for (const s of catalog.sources || []) add('source', s, false);
  for (const s of catalog.sinks || []) add('sink', s, false);
  for (const p of catalog.pipelines || []) add('pipeline', p, false);
  for (const o of scriptObjects(text)) add(o.kind, o, true);
  return byName;
}

function columnOptions(obj, boost = 0, qualify = false) {
  return (obj.columns || []).map((c) => ({
    label: c.name,
    type: 'property',
    detail: qualify ? `${c.type} · ${obj.name}` : c.type,
    info: c.pseudo ? `pseudo-column of the ${obj.connector || ''} connector` : undefined,
    boost: c.pseudo ? boost - 1 : boost,
  }));
}

function keywordOptions(boost = -10) {
  return keywords.map((k) => ({ label: k.toUpperCase(), type: 'keyword', boost }));
}

function functionOptions(catalog) {
  return (catalog.functions || []).map((f) => ({
    label: f.name,
    type: 'function',
    detail: f.signature + (f.returns ? ' → ' + f.returns : ''),
    info: f.doc,
    boost: -2,
  }));
}

function optionInfo(o) {
  return () => {
    const el = document.createElement('div');
    el.className = 'cm-sluice-info';
    const head = document.createElement('div');
    head.className = 'cm-sluice-info-head';
    let h = `${o.type}${o.values && o.values.length ? ': ' + o.values.join(' | ') : ''}`;
    if (o.required) h += ' · required';
    else if (o.default !== undefined && o.default !== '') h += ` · default ${o.default}`;
    if (o.secret) h += ' · secret';
    head.textContent = h;
    el.appendChild(head);
    if (o.doc) {
      const d = document.createElement('div');
      d.textContent = o.doc;
      el.appendChild(d);
    }
    return el;
  };
}

// The clause a position is in: the last clause keyword before it.
const clauseWords = new Set(['SELECT', 'FROM', 'JOIN', 'ON', 'WHERE', 'BY', 'HAVING', 'WITHIN', 'INTO', 'LIMIT', 'AS', 'AND', 'OR', 'WATERMARK', 'FOR']);

export function sluiceCompletion(getCatalog) {
  return (ctx) => {
    const text = ctx.state.doc.toString();
    const pos = ctx.pos;
    const catalog = getCatalog();
    const m = word.exec(text.slice(Math.max(0, pos - 200), pos));
    const from = pos - (m ? m[0].length : 0);
    const toks = tokenize(text);
    // Inside a string or comment: only connector names and option values.
    const inTok = toks.find((t) => t.from < pos && (pos < t.to || (t.open && pos <= t.to)));
    const stmt = statements(text, toks).find((s) => pos >= s.start && pos <= s.end) || { tokens: [], from: pos };
    const before = stmt.tokens.filter((t) => t.to <= from);
    const prev = before[before.length - 1];
    const prev2 = before[before.length - 2];
    const up = (t) => (t && t.t === 'id' ? t.v.toUpperCase() : '');
    if (inTok && inTok.t === 'comment') return null;
    if (!ctx.explicit && from === pos && !(prev && (prev.t === '.' || prev.t === '(' || prev.t === ',' || (prev.t === 'op' && prev.v === '=')))) {
      // Nothing typed yet: only open by itself where something is expected.
      if (!(prev && ['FROM', 'JOIN', 'INTO', 'SELECT', 'WHERE', 'ON', 'BY', 'INTERVAL'].includes(up(prev))) && !(prev && prev.t === 'num' && up(prev2) === 'INTERVAL')) return null;
    }

    // WITH ( … ) of a CREATE SOURCE or SINK.
    const group = withGroups(stmt.tokens).find((g) => pos >= g.open && pos <= g.close);
    if (group) {
      const isSource = stmt.tokens.some((t, i) => i < 4 && up(t) === 'SOURCE');
      const kind = isSource ? 'source' : 'sink';
      const connectors = catalog.connectors || [];
      if (inTok && inTok.t === 'str') {
        const sPrev = stmt.tokens.filter((t) => t.to < inTok.from);
        const k = sPrev[sPrev.length - 2];
        if (k && k.t === 'id' && k.v.toLowerCase() === 'connector') {
          return {
            from: inTok.from + 1,
            to: inTok.open ? pos : inTok.to - 1,
            options: connectors.filter((c) => !c.kinds || c.kinds.includes(kind)).map((c) => ({ label: c.name, type: 'class', detail: (c.kinds || []).join(', '), info: c.doc })),
          };
        }
        const conn = connectors.find((c) => c.name === group.connector);
        const opt = conn && k && (conn.options || []).find((o) => o.name === k.v);
        if (opt && opt.values && opt.values.length) {
          return { from: inTok.from + 1, to: inTok.open ? pos : inTok.to - 1, options: opt.values.map((v) => ({ label: v, type: 'enum' })) };
        }
        return null;
      }
      if (inTok) return null;
      if (prev && prev.t === 'op' && prev.v === '=' && prev2 && prev2.t === 'id' && prev2.v.toLowerCase() === 'connector') {
        return {
          from,
          options: connectors.filter((c) => !c.kinds || c.kinds.includes(kind)).map((c) => ({ label: `'${c.name}'`, type: 'class', detail: (c.kinds || []).join(', '), info: c.doc })),
        };
      }
      if (prev && (prev.t === '(' || prev.t === ',')) {
        const conn = connectors.find((c) => c.name === group.connector);
        const have = new Set(group.options.map((o) => o.key.toLowerCase()));
        let opts = [];
        if (!group.connector) opts.push({ label: 'connector', type: 'property', detail: 'the connector: ' + connectors.map((c) => c.name).join(', '), apply: 'connector = ', boost: 5 });
        if (conn) {
          opts = opts.concat((conn.options || [])
            .filter((o) => !o.kinds || o.kinds.includes(kind))
            .filter((o) => !have.has(o.name.toLowerCase()))
            .map((o) => ({
              label: o.name,
              type: 'property',
              detail: o.type + (o.required ? ' · required' : o.default !== undefined && o.default !== '' ? ` = ${o.default}` : ''),
              info: optionInfo(o),
              apply: `${o.name} = `,
              boost: o.required ? 2 : 0,
            })));
          if (conn.per_column_prefix) opts.push({ label: conn.per_column_prefix, type: 'namespace', detail: 'per-column options: ' + conn.per_column_prefix + '<column>.<option>' });
        }
        return { from, options: opts, validFor: /^[\w.]*$/ };
      }
      return null;
    }
    if (inTok) return null;

    const objects = objectsFor(catalog, text);
    const scope = aliases(stmt.tokens);

    // alias.column
    if (prev && prev.t === '.' && prev2 && (prev2.t === 'id' || prev2.t === 'qid')) {
      const target = scope.get(prev2.v.toLowerCase()) || prev2.v;
      const obj = objects.get(target.toLowerCase());
      if (!obj || !obj.columns) return null;
      return { from, options: columnOptions(obj, 5), validFor: /^[\w$]*$/ };
    }

    // INTERVAL n <unit>
    if ((prev && prev.t === 'num' && up(prev2) === 'INTERVAL') || (prev && prev.t === 'str' && up(prev2) === 'INTERVAL')) {
      return { from, options: units.map((u, i) => ({ label: u, type: 'keyword', boost: i % 2 ? 0 : 1 })), validFor: /^\w*$/ };
    }

    const objectOptions = (kinds) => [...objects.values()].filter((o) => kinds.includes(o.kind)).map((o) => ({
      label: o.name,
      type: o.kind === 'source' ? 'class' : o.kind === 'sink' ? 'interface' : 'namespace',
      detail: o.kind + (o.fromScript ? ' (this script)' : o.state ? ' · ' + o.state : ''),
      info: o.columns ? o.columns.map((c) => `${c.name} ${c.type}`).join(', ') : undefined,
      boost: 5,
    }));
    const p = up(prev);
    if (p === 'FROM' || p === 'JOIN') return { from, options: objectOptions(['source']), validFor: /^[\w$]*$/ };
    if (p === 'INTO') return { from, options: objectOptions(['sink']), validFor: /^[\w$]*$/ };
    if (['PIPELINE', 'PIPELINES', 'DESCRIBE'].includes(p) || (p === 'EXISTS' && up(before[before.length - 4]) === 'PIPELINE')) {
      return { from, options: objectOptions(['pipeline', 'source', 'sink']), validFor: /^[\w$]*$/ };
    }

    // Column list of a CREATE SOURCE: types after a column name.
    const isCreateSource = stmt.tokens.slice(0, 4).some((t) => up(t) === 'SOURCE') && up(stmt.tokens[0]) === 'CREATE';
    if (isCreateSource && prev && prev.t === 'id' && prev2 && (prev2.t === '(' || prev2.t === ',')) {
      return { from, options: typeNames.map((t) => ({ label: t, type: 'type' })), validFor: /^[\w$(]*$/ };
    }

    // Where a column may stand.
    let clause = '';
    for (let i = before.length - 1; i >= 0; i--) {
      const w = up(before[i]);
      if (clauseWords.has(w)) {
        clause = w === 'BY' ? up(before[i - 1]) + ' BY' : w;
        if (w === 'AND' || w === 'OR') continue;
        break;
      }
    }
    const columnClause = ['SELECT', 'WHERE', 'ON', 'GROUP BY', 'DEDUPLICATE BY', 'HAVING', 'AND', 'OR'].includes(clause);
    let options = [];
    if (columnClause && scope.size) {
      const seen = new Set();
      const inScope = [];
      for (const [alias, objName] of scope) {
        const obj = objects.get(objName.toLowerCase());
        if (obj && !seen.has(obj.name)) { seen.add(obj.name); inScope.push(obj); }
        if (alias !== objName.toLowerCase()) options.push({ label: alias, type: 'variable', detail: 'alias of ' + objName, boost: 3 });
      }
      for (const obj of inScope) options = options.concat(columnOptions(obj, 4, inScope.length > 1));
      options = options.concat(functionOptions(catalog));
    } else if (columnClause) {
      options = options.concat(functionOptions(catalog));
    }
    if (!ctx.explicit && from === pos && options.length === 0) return null;
    options = options.concat(keywordOptions(), objectOptions(['source', 'sink', 'pipeline']).map((o) => ({ ...o, boost: -5 })));
    return { from, options, validFor: /^[\w$]*$/ };
  };
}
