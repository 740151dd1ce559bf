// The API counts lines and columns from 1, in characters (Unicode code
// points) of the submitted text; CodeMirror counts offsets in UTF-16 code
// units. A character outside the Basic Multilingual Plane (an emoji) is
// one column but two code units.

// toOffset converts a 1-based line and code-point column of doc (a
// CodeMirror Text) to a document offset, clamped to the line's end.
export function toOffset(doc, line, column) {
  if (line < 1) return 0;
  if (line > doc.lines) return doc.length;
  const l = doc.line(line);
  const text = l.text;
  let off = 0;
  for (let col = 1; col < column && off < text.length; col++) {
    const c = text.codePointAt(off);
    off += c > 0xffff ? 2 : 1;
  }
  return l.from + off;
}

// toLineColumn is the inverse: the 1-based line and code-point column of
// an offset.
export function toLineColumn(doc, offset) {
  const l = doc.lineAt(offset);
  let col = 1;
  for (let i = 0; i < offset - l.from; i++) {
    const c = l.text.codePointAt(i);
    if (c > 0xffff) i++;
    col++;
  }
  return { line: l.number, column: col };
}
