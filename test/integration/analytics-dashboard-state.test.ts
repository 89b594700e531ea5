/**
 * The dashboard's derived figures read per-entity state kept by triggers on analytics_events
 * (sql/010_dashboard_state.sql). Shown here: the figures equal their definitions (docs/decisions.md,
 * written again below in TypeScript over the list of events) whatever the order of arrival, SQS
 * redeliveries, ties, window edges, events after "now", and deletes (retention's and others); and
 * the state equals the state rebuilt from the events.
 */
import { computeDashboardMetrics, ONLINE_STATUSES } from '../../lambdas/analytics-api/dashboard';
import { DEFAULT_RULES } from '../../lambdas/ingest/event';
import { ingest } from '../../lambdas/ingest/ingest';
import { memoryLog } from '../../lambdas/shared/observability';
import { prng } from '../support/analytics-fixture';
import { DRIVERS, type TestDb, testDb } from '../support/db';

const settings = { timeZone: 'Europe/Madrid', activeConversationWindowHours: 24, staffStatusWindowHours: 24, pendingTaskWindowDays: 90 };
const NOW = Date.parse('2025-10-21T10:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
// every event passes validation: the test is about the state, not about the ingest rules
const rules = { ...DEFAULT_RULES, maxFutureMs: 30 * DAY, retentionDays: 3650 };

interface Ev {
  id: string;
  type: string;
  at: number;
  property: string;
  conversation?: string;
  staff?: string;
  task?: string;
  status?: string;
}

const json = (e: Ev) => ({
  id: e.id,
  eventType: e.type,
  timestamp: new Date(e.at).toISOString(),
  propertyId: e.property,
  conversationId: e.conversation ?? null,
  staffId: e.staff ?? null,
  taskId: e.task ?? null,
  metadata: e.status === undefined ? null : { status: e.status },
});

/** The definitions (docs/decisions.md, "Derived figures") over a list of events, at `now`. */
function definition(events: readonly Ev[], property: string, now: number) {
  const mine = events.filter((e) => e.property === property && e.at <= now);
  const inWindow = (e: Ev, hours: number) => e.at >= now - hours * HOUR;
  const latest = new Map<string, number>();
  const ended = new Map<string, number>();
  for (const e of mine)
    if (e.conversation !== undefined && inWindow(e, settings.activeConversationWindowHours)) {
      const m =
        e.type === 'conversation.started' ? latest : ['conversation.resolved', 'conversation.closed'].includes(e.type) ? ended : null;
      if (m) m.set(e.conversation, Math.max(m.get(e.conversation) ?? -Infinity, e.at));
    }
  const active = [...latest].filter(([c, at]) => !((ended.get(c) ?? -Infinity) >= at)).length;
  const staff = new Map<string, Ev>();
  for (const e of mine)
    if (e.staff !== undefined && e.type.startsWith('staff.') && inWindow(e, settings.staffStatusWindowHours)) {
      const prev = staff.get(e.staff);
      if (!prev || e.at > prev.at || (e.at === prev.at && e.id > prev.id)) staff.set(e.staff, e);
    }
  const online = [...staff.values()].filter(
    (e) =>
      e.type === 'staff.login' ||
      (e.type === 'staff.status_changed' && (ONLINE_STATUSES as readonly string[]).includes((e.status ?? '').toLowerCase())),
  ).length;
  const tasks = mine.filter((e) => e.task !== undefined && inWindow(e, settings.pendingTaskWindowDays * 24));
  const completed = new Set(tasks.filter((e) => e.type === 'task.completed').map((e) => e.task));
  const pending = new Set(tasks.filter((e) => e.type === 'task.created' && !completed.has(e.task)).map((e) => e.task)).size;
  return { active, online, pending };
}

// times that sit on and next to every window edge, "now" and the future, with ties
const OFFSETS = [-91 * DAY, -90 * DAY - 1, -90 * DAY, -90 * DAY + 1, -30 * DAY, -25 * HOUR, -DAY - 1, -DAY, -DAY + 1, -3 * HOUR, -2 * HOUR];
const OFFSETS_RECENT = [-HOUR, -30 * MIN, -1, 0, 1, 2 * MIN, 2 * HOUR];
const TYPES: { type: string; kind: 'conversation' | 'staff' | 'task' }[] = [
  { type: 'conversation.started', kind: 'conversation' },
  { type: 'conversation.resolved', kind: 'conversation' },
  { type: 'conversation.closed', kind: 'conversation' },
  { type: 'conversation.escalated', kind: 'conversation' },
  { type: 'staff.login', kind: 'staff' },
  { type: 'staff.logout', kind: 'staff' },
  { type: 'staff.status_changed', kind: 'staff' },
  { type: 'task.created', kind: 'task' },
  { type: 'task.completed', kind: 'task' },
  { type: 'task.assigned', kind: 'task' },
];
const STATUSES = ['available', 'Busy', 'away', 'ONLINE', 'offline', ''];

function corpus(seed: number, n: number): Ev[] {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  return Array.from({ length: n }, (_, i) => {
    const { type, kind } = pick(TYPES);
    const e: Ev = {
      id: `e${String(seed).padStart(3, '0')}-${String(i).padStart(5, '0')}`,
      type,
      at: NOW + (r() < 0.5 ? pick(OFFSETS) : pick(OFFSETS_RECENT)),
      property: pick(['p1', 'p2']),
    };
    const entity = `${kind[0]}${Math.floor(r() * 12)}`;
    if (kind === 'conversation') e.conversation = entity;
    else if (kind === 'staff') {
      e.staff = entity;
      if (type === 'staff.status_changed' && r() < 0.9) e.status = pick(STATUSES);
    } else e.task = entity;
    return e;
  });
}

describe.each(DRIVERS)('dashboard state kept from the raw events, through the %s driver', (driver) => {
  let db: TestDb;
  beforeEach(async () => {
    db = await testDb(driver);
  });
  afterEach(() => db.close());

  /** Ingests `events` in shuffled records of 1–9 events, every record delivered twice (an SQS redelivery). */
  async function ingestShuffled(events: readonly Ev[], seed: number) {
    const r = prng(seed);
    const order = [...events].sort(() => r() - 0.5);
    const records: { recordId: string; body: string }[] = [];
    for (let i = 0; i < order.length; ) {
      const n = 1 + Math.floor(r() * 9);
      records.push({ recordId: `m${i}`, body: JSON.stringify({ events: order.slice(i, i + n).map(json) }) });
      i += n;
    }
    const deps = { sql: db.sql, clock: { now: () => new Date(NOW) }, log: memoryLog(), rules, chunkEvents: 25 };
    const first = await ingest(deps, records);
    const again = await ingest(deps, [...records].reverse());
    expect(first).toMatchObject({ accepted: events.length, rejected: 0, failedRecordIds: [] });
    expect(again).toMatchObject({ accepted: 0, duplicates: events.length, failedRecordIds: [] });
  }

  const figures = async (property: string, now: number) => {
    const m = await computeDashboardMetrics({ sql: db.sql, clock: { now: () => new Date(now) }, settings }, property);
    expect(m.today.conversationsActive).toBe(m.activeConversations);
    return { active: m.activeConversations, online: m.staffOnline, pending: m.pendingTasks };
  };

  const NOWS = [NOW, NOW - 1, NOW + 1, NOW - 3 * HOUR, NOW + 2 * MIN, NOW - 90 * DAY + 2 * HOUR];
  async function expectDefinitions(events: readonly Ev[]) {
    for (const now of NOWS)
      for (const property of ['p1', 'p2'])
        expect({ now: new Date(now).toISOString(), property, ...(await figures(property, now)) }).toEqual({
          now: new Date(now).toISOString(),
          property,
          ...definition(events, property, now),
        });
  }

  const STATE = [
    "SELECT * FROM analytics_lifecycle_state WHERE kind = 'conversation' ORDER BY property_id, entity_id",
    'SELECT * FROM analytics_staff_state ORDER BY property_id, staff_id',
    "SELECT * FROM analytics_lifecycle_state WHERE kind = 'task' ORDER BY property_id, entity_id",
  ];
  /** The state as the triggers left it equals the state rebuilt from the events (what migration 010 does). */
  async function expectStateRebuilds() {
    const kept = await Promise.all(STATE.map((q) => db.direct.query(q)));
    await db.direct.execute('TRUNCATE analytics_lifecycle_state, analytics_staff_state');
    await db.direct.execute(`DO $$ BEGIN EXECUTE analytics_state_add_sql('analytics_events'); END $$`);
    expect(await Promise.all(STATE.map((q) => db.direct.query(q)))).toEqual(kept);
    return kept;
  }

  it('equals the definitions over random events arriving in any order, twice, with ties and window edges, before and after deletes', async () => {
    const events = corpus(1, 400);
    await ingestShuffled(events, 2);
    await expectDefinitions(events);
    const [conversations, staff, tasks] = await expectStateRebuilds();
    expect(conversations?.length).toBeGreaterThan(10);
    expect(staff?.length).toBeGreaterThan(10);
    expect(tasks?.length).toBeGreaterThan(10);

    // deletes of any events: the latest of an entity with older ones left, the last of an entity, ties
    const r = prng(3);
    const gone = new Set(events.filter(() => r() < 0.3).map((e) => e.id));
    await db.sql.execute('DELETE FROM analytics_events WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))', [
      { sqlType: 'jsonb', value: [...gone] },
    ]);
    let left = events.filter((e) => !gone.has(e.id));
    await expectDefinitions(left);
    await expectStateRebuilds();

    // retention: everything before a cutoff, oldest day first, one statement per day
    const cutoff = NOW - 2 * HOUR;
    for (let day = NOW - 92 * DAY; day < cutoff; day += DAY)
      await db.sql.execute('DELETE FROM analytics_events WHERE occurred_at >= $1::timestamptz AND occurred_at < $2::timestamptz', [
        new Date(day),
        new Date(Math.min(day + DAY, cutoff)),
      ]);
    left = left.filter((e) => e.at >= cutoff);
    await expectDefinitions(left);
    await expectStateRebuilds();

    // everything goes: no state is left
    await db.sql.execute('DELETE FROM analytics_events');
    expect(await expectStateRebuilds()).toEqual([[], [], []]);
  });

  it('window edges, by hand: inclusive starts, equal times, the latest by id, a completion before the window', async () => {
    const at = (offset: number) => NOW + offset;
    const events: Ev[] = [
      { id: 'a1', type: 'conversation.started', at: at(-DAY), property: 'p1', conversation: 'on-the-edge' }, // counts: the window is inclusive
      { id: 'a2', type: 'conversation.started', at: at(-DAY - 1), property: 'p1', conversation: 'just-out' },
      { id: 'a3', type: 'conversation.started', at: at(-HOUR), property: 'p1', conversation: 'tie' },
      { id: 'a4', type: 'conversation.resolved', at: at(-HOUR), property: 'p1', conversation: 'tie' }, // ended at its start: not active
      { id: 'a5', type: 'conversation.resolved', at: at(-2 * DAY), property: 'p1', conversation: 'resolved-long-before' },
      { id: 'a6', type: 'conversation.started', at: at(-HOUR), property: 'p1', conversation: 'resolved-long-before' }, // counts
      { id: 'a7', type: 'conversation.closed', at: at(MIN), property: 'p1', conversation: 'closing-soon' }, // after now: not yet
      { id: 'a8', type: 'conversation.started', at: at(-MIN), property: 'p1', conversation: 'closing-soon' }, // counts until then
      { id: 's1', type: 'staff.logout', at: at(-HOUR), property: 'p1', staff: 'same-time' },
      { id: 's2', type: 'staff.login', at: at(-HOUR), property: 'p1', staff: 'same-time' }, // same time: the larger id is the latest
      { id: 's3', type: 'staff.login', at: at(-DAY), property: 'p1', staff: 'edge' }, // counts
      { id: 's4', type: 'staff.login', at: at(-DAY - 1), property: 'p1', staff: 'stale' },
      { id: 's5', type: 'staff.status_changed', at: at(-HOUR), property: 'p1', staff: 'later-away', status: 'available' },
      { id: 's6', type: 'staff.status_changed', at: at(MIN), property: 'p1', staff: 'later-away', status: 'away' }, // after now
      { id: 't1', type: 'task.created', at: at(-90 * DAY), property: 'p1', task: 'edge' }, // counts
      { id: 't2', type: 'task.created', at: at(-90 * DAY - 1), property: 'p1', task: 'just-out' },
      { id: 't3', type: 'task.completed', at: at(-91 * DAY), property: 'p1', task: 'completed-before-window' },
      { id: 't4', type: 'task.created', at: at(-DAY), property: 'p1', task: 'completed-before-window' }, // counts
      { id: 't5', type: 'task.created', at: at(-DAY), property: 'p1', task: 'completed-later' },
      { id: 't6', type: 'task.completed', at: at(MIN), property: 'p1', task: 'completed-later' }, // after now: still pending
    ];
    await ingestShuffled(events, 4);
    expect(await figures('p1', NOW)).toEqual({ active: 3, online: 3, pending: 3 });
    expect(definition(events, 'p1', NOW)).toEqual({ active: 3, online: 3, pending: 3 });
    // two minutes later: closing-soon is closed, later-away is away, completed-later is completed;
    // the edges moved: on-the-edge, edge (staff) and edge (task) are out
    expect(await figures('p1', NOW + 2 * MIN)).toEqual({ active: 1, online: 1, pending: 1 });
    expect(definition(events, 'p1', NOW + 2 * MIN)).toEqual({ active: 1, online: 1, pending: 1 });
  });
});
