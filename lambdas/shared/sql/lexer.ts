/**
 * A small SQL lexer that knows where code ends and literals/comments begin, so that
 * statement splitting and placeholder rewriting never touch text inside
 * 'strings', E'escapes', "identifiers", $tag$dollar bodies$tag$, -- and /* comments.
 */
export interface Segment {
  readonly kind: 'code' | 'literal' | 'comment';
  readonly text: string;
}

export function lexSql(sql: string): Segment[] {
  const out: Segment[] = [];
  let code = '';
  let i = 0;
  const flushCode = () => {
    if (code) out.push({ kind: 'code', text: code });
    code = '';
  };
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      flushCode();
      out.push({ kind: 'comment', text: sql.slice(i, stop) });
      i = stop;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < sql.length && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else j++;
      }
      flushCode();
      out.push({ kind: 'comment', text: sql.slice(i, j) });
      i = j;
    } else if (c === "'" || c === '"') {
      const escapes = c === "'" && i > 0 && /[eE]/.test(sql[i - 1] as string) && !/\w/.test(sql[i - 2] ?? ' ');
      let j = i + 1;
      while (j < sql.length) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      flushCode();
      out.push({ kind: 'literal', text: sql.slice(i, j + 1) });
      i = j + 1;
    } else if (c === '$' && !/[\w$]/.test(sql[i - 1] ?? ' ')) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (m) {
        const tag = m[0];
        const end = sql.indexOf(tag, i + tag.length);
        const stop = end === -1 ? sql.length : end + tag.length;
        flushCode();
        out.push({ kind: 'literal', text: sql.slice(i, stop) });
        i = stop;
      } else {
        code += c;
        i++;
      }
    } else {
      code += c;
      i++;
    }
  }
  flushCode();
  return out;
}

/** Splits a script into statements on top-level semicolons; drops empty and comment-only ones. */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = '';
  let hasCode = false;
  for (const seg of lexSql(sql)) {
    if (seg.kind !== 'code') {
      current += seg.text;
      if (seg.kind === 'literal') hasCode = true;
      continue;
    }
    const parts = seg.text.split(';');
    parts.forEach((part, idx) => {
      current += part;
      if (part.trim()) hasCode = true;
      if (idx < parts.length - 1) {
        if (hasCode) statements.push(current.trim());
        current = '';
        hasCode = false;
      }
    });
  }
  if (hasCode && current.trim()) statements.push(current.trim());
  return statements;
}

/** Rewrites `$1`, `$2`... in code (never in literals/comments) with `replace(n)`. */
export function rewritePlaceholders(sql: string, replace: (n: number) => string): string {
  return lexSql(sql)
    .map((seg) => (seg.kind === 'code' ? seg.text.replace(/\$(\d+)/g, (_, n: string) => replace(Number(n))) : seg.text))
    .join('');
}
