/**
 * Every relative link of README.md and the pages under docs/ resolves: the file (or folder) exists,
 * and an `#anchor` names a heading of the page it points to, as GitHub renders it. Links inside code
 * are not links; web addresses are not checked here.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { anchorOf } from '../../lib/constructs/runbook';

const ROOT = join(__dirname, '..', '..');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}
const PAGES = [join(ROOT, 'README.md'), ...markdownFiles(join(ROOT, 'docs'))];

/** The text outside fenced code blocks and inline code. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** The anchors GitHub gives a page's headings (a repeated heading gets -1, -2…). */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const m of withoutFences.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const text = (m[1] ?? '').replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = anchorOf(text);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Every link target of a page: inline `[text](target)` / `![alt](target)` and reference definitions. */
function targets(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? '');
  const defined = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1] ?? '');
  return [...inline, ...defined];
}

describe('links in README.md and docs/', () => {
  it('finds the pages, and the links in them', () => {
    expect(PAGES.map((p) => relative(ROOT, p))).toEqual(expect.arrayContaining(['README.md', 'docs/runbook.md', 'docs/operate.md']));
    expect(targets(readFileSync(join(ROOT, 'README.md'), 'utf8')).length).toBeGreaterThan(5);
  });

  it.each(PAGES.map((p) => [relative(ROOT, p), p]))('%s: every relative link resolves, file and anchor', (_name, page) => {
    const markdown = readFileSync(page, 'utf8');
    const broken: string[] = [];
    for (const target of targets(markdown)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:…
      const [path = '', anchor] = target.split('#');
      const file = path ? resolve(dirname(page), decodeURI(path)) : page;
      if (!existsSync(file)) {
        broken.push(`${target}: no ${relative(ROOT, file)}`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!file.endsWith('.md')) {
        broken.push(`${target}: an anchor into a file that is not a page`);
        continue;
      }
      if (!anchorsOf(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${target}: no heading #${anchor} in ${relative(ROOT, file)}`);
    }
    expect(broken).toEqual([]);
  });

  it('reads anchors as GitHub makes them', () => {
    const page = [
      '# Runbook',
      '### `dlc-<env>-jobs-stale`',
      '## The backfill (seed 003) and full-text search',
      '## Notes',
      '## Notes',
      '```',
      '# not a heading',
      '```',
    ].join('\n');
    expect([...anchorsOf(page)]).toEqual([
      'runbook',
      'dlc-env-jobs-stale',
      'the-backfill-seed-003-and-full-text-search',
      'notes',
      'notes-1',
    ]);
  });
});
