import { existsSync, readFileSync } from 'node:fs';
import type { DemoContext } from '../../local/demo';
import { servingStep } from '../../local/demo-steps/serving';
import { type TestDb, testDb } from '../support/db';

describe('demo step: analytics read side', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb('pg');
  });
  afterAll(() => db.close());

  it('fills its fixture, prints the dashboard and writes an HTML report', async () => {
    const lines: string[] = [];
    const ctx = { sql: db.direct, say: (l: string) => lines.push(l) } as unknown as DemoContext;
    await servingStep(ctx);
    const text = lines.join('\n');
    const json = JSON.parse(text.slice(text.indexOf('{'), text.indexOf('\n}') + 2));
    expect(json.today.messagesReceived).toBeGreaterThanOrEqual(12); // at least the raw events of the open hour
    expect(json).toMatchObject({ activeConversations: 2, staffOnline: 2, pendingTasks: 1 });
    const file = /: (\S+\.html) /.exec(text)?.[1] as string;
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('data-chart="messages"');
  });
});
