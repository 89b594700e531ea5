/**
 * CSV of a report: one file per section table (`summary-totals.csv`, `conversations-timeline.csv`, …)
 * bundled in a .zip, each UTF-8 with a BOM, CRLF line ends and RFC 4180 quoting, so a spreadsheet
 * opens it cleanly. A text cell starting with = + - @ (a formula to a spreadsheet) gets a leading
 * apostrophe (OWASP "CSV injection"); numbers are written as JavaScript writes them.
 */
import { strToU8, zipSync } from 'fflate';
import type { Cell, Report, TableRows } from './reports';

const BOM = '\uFEFF';

export function csvCell(v: Cell): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The columns of a table: every key of every row, in first-seen order. */
export function columns(rows: TableRows): string[] {
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  return cols;
}

export function tableToCsv(rows: TableRows): string {
  const cols = columns(rows);
  const lines = [cols.map(csvCell).join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c] ?? null)).join(','))];
  return `${BOM}${lines.join('\r\n')}\r\n`;
}

/** `{file name → CSV text}` for every table of every section, in report order. */
export function reportCsvFiles(report: Report): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [section, tables] of Object.entries(report.sections)) {
    for (const [table, rows] of Object.entries(tables ?? {})) files[`${section}-${table}.csv`] = tableToCsv(rows);
  }
  return files;
}

/** The .zip of the report's CSV files (deterministic: fixed timestamps). */
export function reportCsvZip(report: Report): Uint8Array {
  const mtime = new Date('2000-01-01T00:00:00Z');
  const entries = Object.fromEntries(
    Object.entries(reportCsvFiles(report)).map(([name, text]) => [name, [strToU8(text), { mtime }] as const]),
  );
  return zipSync(entries as Parameters<typeof zipSync>[0], { level: 6 });
}
