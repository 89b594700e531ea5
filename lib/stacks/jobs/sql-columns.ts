/**
 * The stored columns of each table, read from the migrations (`CREATE TABLE`, `ALTER TABLE … ADD
 * COLUMN`) at synth time, so the Glue tables follow the schema without a second list to maintain.
 * Stored generated columns are skipped (retention does not export them).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function splitTopLevel(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let current = '';
  for (const ch of body) {
    if (ch === "'") inString = !inString;
    if (!inString) {
      if (ch === '(') depth++;
      if (ch === ')') depth--;
      if (ch === ',' && depth === 0) {
        parts.push(current);
        current = '';
        continue;
      }
    }
    current += ch;
  }
  if (current.trim()) parts.push(current);
  return parts;
}

const NOT_COLUMNS = /^(constraint|primary|unique|check|foreign|exclude)\b/i;
const isGenerated = (def: string) => /generated\s+always\s+as\s*\(/i.test(def);

export function tableColumns(sqlDir: string): Map<string, string[]> {
  const tables = new Map<string, string[]>();
  for (const file of readdirSync(sqlDir)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    const text = readFileSync(join(sqlDir, file), 'utf8').replace(/--[^\n]*/g, '');
    const create = /create\s+table\s+(?:if\s+not\s+exists\s+)?([a-z_][a-z0-9_]*)\s*\(/gi;
    for (let m = create.exec(text); m; m = create.exec(text)) {
      let depth = 1;
      let i = create.lastIndex;
      for (; i < text.length && depth > 0; i++) {
        if (text[i] === '(') depth++;
        else if (text[i] === ')') depth--;
      }
      const name = (m[1] as string).toLowerCase();
      if (tables.has(name)) continue;
      const cols = splitTopLevel(text.slice(create.lastIndex, i - 1))
        .map((d) => d.trim())
        .filter((d) => d && !NOT_COLUMNS.test(d) && !isGenerated(d))
        .map((d) => (d.split(/\s+/)[0] as string).replace(/"/g, '').toLowerCase());
      tables.set(name, cols);
    }
    const alter = /alter\s+table\s+(?:if\s+exists\s+)?([a-z_][a-z0-9_]*)\s+([^;]*);/gi;
    for (let m = alter.exec(text); m; m = alter.exec(text)) {
      const cols = tables.get((m[1] as string).toLowerCase());
      if (!cols) continue;
      for (const clause of splitTopLevel(m[2] as string)) {
        const add = /^\s*add\s+column\s+(?:if\s+not\s+exists\s+)?([a-z_][a-z0-9_]*)/i.exec(clause);
        if (add && !isGenerated(clause) && !cols.includes((add[1] as string).toLowerCase())) cols.push((add[1] as string).toLowerCase());
      }
    }
  }
  return tables;
}
