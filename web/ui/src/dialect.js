// The Sluice dialect of CodeMirror's SQL language: its keywords (dedup,
// interval joins, watermarks, windows, interval units), ClickHouse-style
// types, backquoted and double-quoted identifiers.
import { SQLDialect } from '@codemirror/lang-sql';

export const units = ['SECOND', 'SECONDS', 'MINUTE', 'MINUTES', 'HOUR', 'HOURS', 'DAY', 'DAYS'];

export const keywords = [
  'select', 'from', 'where', 'group', 'by', 'having', 'order', 'limit', 'as', 'and', 'or', 'not',
  'in', 'is', 'null', 'like', 'between', 'case', 'when', 'then', 'else', 'end', 'join', 'inner',
  'left', 'on', 'distinct', 'true', 'false', 'cast', 'asc', 'desc', 'union', 'all', 'insert',
  'into', 'with', 'create', 'or', 'replace', 'source', 'sink', 'pipeline', 'if', 'exists', 'drop',
  'start', 'stop', 'show', 'describe', 'explain', 'sources', 'sinks', 'pipelines',
  'deduplicate', 'within', 'watermark', 'for', 'interval', 'tumble', 'hop',
  ...units.map((u) => u.toLowerCase()),
];

export const types = [
  'string', 'uint8', 'uint16', 'uint32', 'uint64', 'int8', 'int16', 'int32', 'int64', 'float32',
  'float64', 'bool', 'boolean', 'date', 'datetime', 'datetime64', 'decimal', 'nullable', 'uuid',
  'lowcardinality', 'array', 'map', 'json',
];

export const Sluice = SQLDialect.define({
  keywords: keywords.join(' '),
  types: types.join(' '),
  builtin: 'count sum min max avg coalesce round floor ceil abs lower upper length concat date_trunc tostartofinterval json_value now if',
  identifierQuotes: '`"',
  operatorChars: '*+-%<>!=&|~^/',
  caseInsensitiveIdentifiers: true,
});

// Type names as written in column lists, for completion.
export const typeNames = ['String', 'UInt8', 'UInt16', 'UInt32', 'UInt64', 'Int8', 'Int16', 'Int32', 'Int64',
  'Float32', 'Float64', 'Bool', 'Date', 'DateTime', 'DateTime64(3)', 'Decimal(18, 2)', 'Nullable(String)', 'UUID'];
