import { refreshTokenRollups } from '../../lambdas/aggregate/tokens';
import { p } from '../../lambdas/shared/sql/types';
import { DRIVERS, type TestDb, testDb } from '../support/db';

describe.each(DRIVERS)('seed-named views through the %s driver', (driver) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb(driver);
    const d = db.direct;
    await d.execute(`INSERT INTO observability_events (event_id, app_source, user_id, repo, agents, status, triggered_at, completed_at, input_tokens, output_tokens, model)
      VALUES ('ev-1', 'telegram-bot', 'u-1', 'org/repo',
        '[{"name":"router","type":"classifier","duration_ms":120,"input_tokens":10,"output_tokens":2,"model":"m-small","tools":["lookup"],"tool_calls":1},
          {"name":"writer","type":"llm","duration_ms":"oops","input_tokens":300,"output_tokens":80,"model":"m-large"},
          "junk"]',
        'success', '2025-10-28T10:00:00Z', '2025-10-28T10:00:02Z', 310, 82, 'm-large')`);
    await d.execute(`INSERT INTO conversations (id, conversation_key, source, customer_id, platform, user_id, username, external_id, started_at)
      VALUES ('11111111-1111-4111-8111-111111111111', 'telegram:u-1', 'live', 'cust-1', 'telegram', 'u-1', 'ana', 'chat-9', '2025-10-28T09:59:00Z'),
             ('22222222-2222-4222-8222-222222222222', 'wa-msg-abc123', 'redis_archive', NULL, 'whatsapp', 'u-2', NULL, NULL, '2025-10-29T23:30:00Z')`);
    await d.execute(`INSERT INTO messages (conversation_id, message_key, seq, role, content, created_at, source, input_tokens, output_tokens, cached_tokens, reasoning_tokens, model, event_id, is_archived, metadata)
      VALUES ('11111111-1111-4111-8111-111111111111', 'm1', 0, 'user', 'Hola, quiero reservar', '2025-10-28T10:00:00Z', 'live', 0, 0, 0, 0, NULL, 'ev-1', false, '{}'),
             ('11111111-1111-4111-8111-111111111111', 'm2', 1, 'assistant', 'Claro, ¿para cuándo?', '2025-10-28T10:00:02Z', 'live', 310, 82, 5, 7, 'm-large', 'ev-1', false, '{"k":1}'),
             ('11111111-1111-4111-8111-111111111111', 'm3', 2, 'user', 'archived one', '2025-10-28T10:05:00Z', 'live', 1, 1, 0, 0, NULL, NULL, true, '{}'),
             ('22222222-2222-4222-8222-222222222222', 'm1', 0, 'user', 'Hello', '2025-10-29T23:30:00Z', 'redis_archive', 4, 0, 0, 0, NULL, NULL, false, '{}'),
             ('22222222-2222-4222-8222-222222222222', 'm2', 1, 'assistant', 'Hi!', '2025-10-30T00:30:00Z', 'redis_archive', 0, 6, 0, 0, 'm-small', NULL, false, '{}')`);
  });
  afterAll(() => db.close());

  it("conversation_history answers seed 000's operator query with the original worker's columns", async () => {
    const rows = await db.sql.query("SELECT * FROM conversation_history WHERE conversation_id = 'wa-msg-abc123' ORDER BY timestamp");
    expect(rows.map((r) => Object.keys(r).sort())).toEqual([
      ['conversation_id', 'customer_id', 'id', 'message_content', 'message_role', 'metadata', 'timestamp'],
      ['conversation_id', 'customer_id', 'id', 'message_content', 'message_role', 'metadata', 'timestamp'],
    ]);
    expect(rows.map((r) => [r.customer_id, r.message_role, r.message_content, r.timestamp])).toEqual([
      [null, 'user', 'Hello', '2025-10-29T23:30:00.000Z'],
      [null, 'assistant', 'Hi!', '2025-10-30T00:30:00.000Z'],
    ]);
    const [count] = await db.sql.query<{ count: number }>('SELECT COUNT(*) FROM conversation_history');
    expect(count?.count).toBe(5);
  });

  it("refuses seed 000's manual DELETE, pointing at the retention job", async () => {
    await expect(db.sql.execute("DELETE FROM conversation_history WHERE timestamp < NOW() - INTERVAL '6 months'")).rejects.toThrow(
      /read-only view: delete old history with the retention job/,
    );
    const [count] = await db.direct.query<{ c: number }>('SELECT count(*) AS c FROM messages');
    expect(count?.c).toBe(5);
  });

  it('analytics_messages_view enriches messages with conversation and event data', async () => {
    const rows = await db.sql.query(
      'SELECT message_id, session_id, sequence, role, platform, user_id, username, chat_id, repo, input_tokens, output_tokens, cached_tokens, reasoning_tokens, is_archived, updated_at FROM analytics_messages_view WHERE session_id = $1::text ORDER BY sequence',
      ['telegram:u-1'],
    );
    expect(rows).toHaveLength(3);
    expect(rows[1]).toEqual({
      message_id: 'm2',
      session_id: 'telegram:u-1',
      sequence: 1,
      role: 'assistant',
      platform: 'telegram',
      user_id: 'u-1',
      username: 'ana',
      chat_id: 'chat-9',
      repo: 'org/repo',
      input_tokens: 310,
      output_tokens: 82,
      cached_tokens: 5,
      reasoning_tokens: 7,
      is_archived: false,
      updated_at: '2025-10-28T10:00:02.000Z',
    });
  });

  it('analytics_agent_steps_view flattens the agents JSON in order, tolerating junk', async () => {
    const rows = await db.sql.query(
      'SELECT step_id, sequence, agent_name, agent_type, duration_ms, input_tokens, output_tokens, model, tools_used, tool_calls_count, status FROM analytics_agent_steps_view WHERE event_id = $1::text ORDER BY sequence',
      ['ev-1'],
    );
    expect(rows).toEqual([
      {
        step_id: 'ev-1-0',
        sequence: 0,
        agent_name: 'router',
        agent_type: 'classifier',
        duration_ms: 120,
        input_tokens: 10,
        output_tokens: 2,
        model: 'm-small',
        tools_used: ['lookup'],
        tool_calls_count: 1,
        status: 'success',
      },
      {
        step_id: 'ev-1-1',
        sequence: 1,
        agent_name: 'writer',
        agent_type: 'llm',
        duration_ms: 0,
        input_tokens: 300,
        output_tokens: 80,
        model: 'm-large',
        tools_used: null,
        tool_calls_count: 0,
        status: 'success',
      },
    ]);
  });

  it('analytics_conversations_view aggregates non-archived messages per conversation', async () => {
    const rows = await db.sql.query(
      'SELECT conversation_id, user_id, platform, message_count, total_tokens, first_message_at, last_message_at FROM analytics_conversations_view ORDER BY conversation_id',
    );
    expect(rows).toEqual([
      {
        conversation_id: 'telegram:u-1',
        user_id: 'u-1',
        platform: 'telegram',
        message_count: 2,
        total_tokens: 392,
        first_message_at: '2025-10-28T10:00:00.000Z',
        last_message_at: '2025-10-28T10:00:02.000Z',
      },
      {
        conversation_id: 'wa-msg-abc123',
        user_id: 'u-2',
        platform: 'whatsapp',
        message_count: 2,
        total_tokens: 10,
        first_message_at: '2025-10-29T23:30:00.000Z',
        last_message_at: '2025-10-30T00:30:00.000Z',
      },
    ]);
  });

  it('analytics_user_daily_view and analytics_platform_daily_view split by UTC day', async () => {
    // Since migration 006 they read seed 002's token rollups, refreshed by the hourly aggregation.
    await db.sql.transaction((tx) => refreshTokenRollups(tx));
    const users = await db.sql.query(
      'SELECT aggregate_key, period_date, period_start, period_end, total_tokens, message_count, user_message_count, assistant_message_count, event_count, session_count FROM analytics_user_daily_view ORDER BY aggregate_key, period_start',
    );
    expect(users).toEqual([
      {
        aggregate_key: 'u-1',
        period_date: '2025-10-28',
        period_start: Date.UTC(2025, 9, 28),
        period_end: Date.UTC(2025, 9, 29),
        total_tokens: 392,
        message_count: 2,
        user_message_count: 1,
        assistant_message_count: 1,
        event_count: 1,
        session_count: 1,
      },
      {
        aggregate_key: 'u-2',
        period_date: '2025-10-29',
        period_start: Date.UTC(2025, 9, 29),
        period_end: Date.UTC(2025, 9, 30),
        total_tokens: 4,
        message_count: 1,
        user_message_count: 1,
        assistant_message_count: 0,
        event_count: 0,
        session_count: 1,
      },
      {
        aggregate_key: 'u-2',
        period_date: '2025-10-30',
        period_start: Date.UTC(2025, 9, 30),
        period_end: Date.UTC(2025, 9, 31),
        total_tokens: 6,
        message_count: 1,
        user_message_count: 0,
        assistant_message_count: 1,
        event_count: 0,
        session_count: 1,
      },
    ]);
    const platforms = await db.sql.query(
      'SELECT aggregate_key, period_date, message_count, user_count, session_count, total_tokens FROM analytics_platform_daily_view WHERE aggregate_key = $1::text',
      [p.text('telegram')],
    );
    expect(platforms).toEqual([
      { aggregate_key: 'telegram', period_date: '2025-10-28', message_count: 2, user_count: 1, session_count: 1, total_tokens: 392 },
    ]);
  });
});
