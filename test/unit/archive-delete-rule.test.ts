import { type DeleteFacts, deleteRule } from '../../lambdas/archive/delete-rule';

const ok: DeleteFacts = {
  documentsFound: 3,
  documentsParsed: 3,
  blockedBy: 0,
  problems: 0,
  newestMs: 1_000,
  cutoffMs: 2_000,
  missingBlobs: 0,
  committed: true,
  copiesKept: true,
  changedKeys: 0,
  appearedDocuments: 0,
};

describe('the delete rule', () => {
  it('lets a thread go only when every condition holds', () => {
    expect(deleteRule(ok)).toEqual({ delete: true });
  });

  it.each<[string, Partial<DeleteFacts>, 'a' | 'b' | 'c' | 'd']>([
    ['a document was not parsed', { documentsParsed: 2 }, 'a'],
    ['no document at all', { documentsFound: 0, documentsParsed: 0 }, 'a'],
    ['an unreadable key may be the thread’s', { blockedBy: 1 }, 'a'],
    ['a blob or companion was not understood', { problems: 1 }, 'a'],
    ['a document has no age', { newestMs: undefined }, 'b'],
    ['the newest document is newer than the cutoff', { newestMs: 2_001 }, 'b'],
    ['a declared message blob is absent', { missingBlobs: 1 }, 'c'],
    ['the messages are not committed', { committed: false }, 'c'],
    ['invalid messages have no quarantine copy', { copiesKept: false }, 'c'],
    ['a key changed since it was read', { changedKeys: 1 }, 'd'],
    ['a document appeared since discovery', { appearedDocuments: 1 }, 'd'],
  ])('keeps the thread when %s', (_name, change, rule) => {
    const verdict = deleteRule({ ...ok, ...change });
    expect(verdict).toMatchObject({ delete: false, rule });
  });

  it('takes the cutoff itself as old enough', () => {
    expect(deleteRule({ ...ok, newestMs: ok.cutoffMs })).toEqual({ delete: true });
  });
});
