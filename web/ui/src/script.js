// A small scanner for Sluice scripts, run in the browser: statements, the
// objects a script creates (with their column lists), aliases in scope,
// and WITH (...) option groups. It feeds completion, the option
// highlighting and "preview the statement under the cursor"; the server's
// parser stays the judge of what is valid.

const identStart = /[A-Za-z_\u0080-\uffff]/;
const identPart = /[A-Za-z0-9_$\u0080-\uffff]/;

// tokenize splits text into tokens {t, v, from, to}: t is "id" (word),
// "qid" (quoted identifier, v unquoted), "str" (v unquoted), "num", "op",
// "(", ")", ",", ";", ".", "comment". Whitespace is skipped. An
// unterminated string or comment runs to the end and is marked open.
export function tokenize(text) {
  const out = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    const from = i;
    if (c === '-' && text[i + 1] === '-') {
      while (i < n && text[i] !== '\n') i++;
      out.push({ t: 'comment', v: text.slice(from, i), from, to: i });
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      out.push({ t: 'comment', v: text.slice(from, i), from, to: i, open: end < 0 });
      continue;
    }
    if (c === "'") {
      let v = '';
      i++;
      let closed = false;
      while (i < n) {
        if (text[i] === '\\' && i + 1 < n) { v += text[i + 1]; i += 2; continue; }
        if (text[i] === "'") {
          if (text[i + 1] === "'") { v += "'"; i += 2; continue; }
          i++; closed = true; break;
        }
        v += text[i++];
      }
      out.push({ t: 'str', v, from, to: i, open: !closed });
      continue;
    }
    if (c === '`' || c === '"') {
      const end = text.indexOf(c, i + 1);
      i = end < 0 ? n : end + 1;
      out.push({ t: 'qid', v: text.slice(from + 1, end < 0 ? n : end), from, to: i, open: end < 0 });
      continue;
    }
    if (/[0-9]/.test(c)) {
      while (i < n && /[0-9.eE]/.test(text[i])) i++;
      out.push({ t: 'num', v: text.slice(from, i), from, to: i });
      continue;
    }
    if (identStart.test(c)) {
      while (i < n && identPart.test(text[i])) i++;
      out.push({ t: 'id', v: text.slice(from, i), from, to: i });
      continue;
    }
    if ('(),;.'.includes(c)) {
      out.push({ t: c, v: c, from, to: i + 1 });
      i++;
      continue;
    }
    while (i < n && '<>=!+-*/%|&~^'.includes(text[i]) && i - from < 2) i++;
    if (i === from) i++;
    out.push({ t: 'op', v: text.slice(from, i), from, to: i });
  }
  return out;
}

const kw = (tok, word) => tok && tok.t === 'id' && tok.v.toUpperCase() === word;
const name = (tok) => tok && (tok.t === 'id' || tok.t === 'qid') ? tok.v : null;

// statements splits a script at top-level semicolons. Each statement has
// from/to (to excludes the ";"), end (past the ";" when there is one) and
// its tokens without comments.
export function statements(text, toks = tokenize(text)) {
  const out = [];
  let cur = [];
  let start = 0;
  for (const tok of toks) {
    if (tok.t === ';') {
      out.push(finish(cur, start, tok.from, tok.to));
      cur = [];
      start = tok.to;
      continue;
    }
    if (tok.t !== 'comment') cur.push(tok);
  }
  if (cur.length || start < text.length) out.push(finish(cur, start, text.length, text.length));
  return out.filter((s) => s.tokens.length || s.end > s.from);
}

function finish(tokens, start, to, end) {
  const from = tokens.length ? tokens[0].from : start;
  return { from, to: tokens.length ? tokens[tokens.length - 1].to : from, end, start, tokens };
}

// statementAt is the statement under pos: the one whose text (or its
// trailing ";") holds pos, else the closest one before it.
export function statementAt(text, pos) {
  const stmts = statements(text).filter((s) => s.tokens.length);
  let best = null;
  for (const s of stmts) {
    if (pos >= s.start && pos <= s.end) {
      if (pos < s.from && best) continue; // in the blank before it: keep the one before
      return s;
    }
    if (s.from <= pos) best = s;
  }
  return best;
}

// withGroups finds every `WITH ( … )` option list: its bounds (inside the
// parentheses) and its key = value pairs.
export function withGroups(toks) {
  const groups = [];
  for (let i = 0; i < toks.length - 1; i++) {
    if (!kw(toks[i], 'WITH') || toks[i + 1].t !== '(') continue;
    const g = { open: toks[i + 1].to, close: Infinity, options: [], connector: null };
    let depth = 1;
    let j = i + 2;
    let keyStart = j;
    for (; j < toks.length && depth > 0; j++) {
      const t = toks[j];
      if (t.t === '(') depth++;
      else if (t.t === ')') { depth--; if (depth === 0) { g.close = t.from; break; } }
      else if (t.t === ';') break;
      else if (depth === 1 && t.t === 'op' && t.v === '=') {
        const keyToks = toks.slice(keyStart, j).filter((k) => k.t !== 'comment');
        if (keyToks.length) {
          const key = keyToks.map((k) => k.v).join('');
          const val = toks[j + 1];
          const opt = { key, from: keyToks[0].from, to: keyToks[keyToks.length - 1].to, value: val && val.t === 'str' ? val.v : val ? val.v : '' };
          g.options.push(opt);
          if (key.toLowerCase() === 'connector') g.connector = opt.value;
        }
      } else if (depth === 1 && t.t === ',') keyStart = j + 1;
    }
    groups.push(g);
    i = j;
  }
  return groups;
}

// The column list of a CREATE SOURCE: "name Type, …", skipping WATERMARK
// and other clauses.
function columnList(toks, i) {
  const cols = [];
  if (!toks[i] || toks[i].t !== '(') return { cols, next: i };
  let depth = 1;
  let part = [];
  let j = i + 1;
  const flush = () => {
    if (part.length >= 1 && (part[0].t === 'id' || part[0].t === 'qid') && !kw(part[0], 'WATERMARK') && !kw(part[0], 'PRIMARY')) {
      const type = part.slice(1).map((p) => p.v).join('').replace(/,/g, ', ');
      cols.push({ name: part[0].v, type: type || '?' });
    }
    part = [];
  };
  for (; j < toks.length; j++) {
    const t = toks[j];
    if (t.t === '(') depth++;
    if (t.t === ')') { depth--; if (depth === 0) break; }
    if (t.t === ',' && depth === 1) { flush(); continue; }
    part.push(t);
  }
  flush();
  return { cols, next: j + 1 };
}

// scriptObjects lists what the script's CREATE statements define, in order:
// {kind, name, columns?, connector?, from, to}.
export function scriptObjects(text) {
  const out = [];
  for (const s of statements(text)) {
    const t = s.tokens;
    if (!kw(t[0], 'CREATE')) continue;
    let i = 1;
    if (kw(t[i], 'OR') && kw(t[i + 1], 'REPLACE')) i += 2;
    const kind = t[i] && t[i].t === 'id' ? t[i].v.toLowerCase() : '';
    if (!['source', 'sink', 'pipeline'].includes(kind)) continue;
    i++;
    if (kw(t[i], 'IF') && kw(t[i + 1], 'NOT') && kw(t[i + 2], 'EXISTS')) i += 3;
    const n = name(t[i]);
    if (!n) continue;
    const obj = { kind, name: n, from: s.from, to: s.end };
    if (kind === 'source') obj.columns = columnList(t, i + 1).cols;
    const g = withGroups(t)[0];
    if (g && g.connector) obj.connector = g.connector;
    out.push(obj);
  }
  return out;
}

// aliases maps every name a statement's FROM and JOIN clauses bring into
// scope (the object's own name and its alias) to the object's name.
export function aliases(toks) {
  const out = new Map();
  for (let i = 0; i < toks.length; i++) {
    if (!kw(toks[i], 'FROM') && !kw(toks[i], 'JOIN')) continue;
    const obj = name(toks[i + 1]);
    if (!obj) continue;
    out.set(obj.toLowerCase(), obj);
    let j = i + 2;
    if (kw(toks[j], 'AS')) j++;
    const a = toks[j];
    if (a && (a.t === 'qid' || (a.t === 'id' && !reserved.has(a.v.toUpperCase())))) out.set(a.v.toLowerCase(), obj);
  }
  return out;
}

const reserved = new Set(['JOIN', 'INNER', 'LEFT', 'RIGHT', 'ON', 'WHERE', 'GROUP', 'DEDUPLICATE', 'HAVING', 'LIMIT', 'ORDER', 'WITHIN', 'UNION', 'AS', 'SELECT', 'FROM']);

// pipelineSelect is the SELECT of a CREATE PIPELINE statement (its text
// offsets), or of a bare SELECT; null for anything else.
export function selectOf(stmt) {
  const t = stmt.tokens;
  if (kw(t[0], 'SELECT')) return { from: t[0].from, to: stmt.to, pipeline: null };
  if (!kw(t[0], 'CREATE')) return null;
  let i = 1;
  if (kw(t[i], 'OR') && kw(t[i + 1], 'REPLACE')) i += 2;
  if (!kw(t[i], 'PIPELINE')) return null;
  const pipeline = name(t[i + 1]);
  for (let j = i + 2; j < t.length; j++) {
    if (kw(t[j], 'SELECT')) return { from: t[j].from, to: stmt.to, pipeline };
  }
  return null;
}
