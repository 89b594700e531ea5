/**
 * Seed 001's AnalyticsEvent (camelCase, as the app records it) and its validation, shared by the
 * app-side collector (checks on the spot) and the ingest Lambda (checks again: every input is hostile).
 */
import { parseIsoInstant } from '../aggregate/calendar';
import { propertyIdProblem } from '../shared/property-id';

export const EVENT_TYPES = [
  'message.received',
  'message.sent',
  'message.delivered',
  'message.read',
  'message.failed',
  'conversation.started',
  'conversation.escalated',
  'conversation.resolved',
  'conversation.closed',
  'response.ai_generated',
  'response.staff_sent',
  'response.time_recorded',
  'task.created',
  'task.assigned',
  'task.completed',
  'task.sla_breached',
  'intent.classified',
  'intent.confidence_low',
  'intent.action_taken',
  'satisfaction.survey_sent',
  'satisfaction.rating_received',
  'satisfaction.feedback_received',
  'staff.login',
  'staff.logout',
  'staff.status_changed',
] as const;
export type AnalyticsEventType = (typeof EVENT_TYPES)[number];
const TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

/** What the app records (seed 001's AnalyticsEvent; `id` and `timestamp` optional on input). */
export interface AnalyticsEvent {
  id: string;
  eventType: AnalyticsEventType;
  /** ISO-8601 instant (a Date is accepted by the collector and serialized). */
  timestamp: string;
  propertyId: string;
  channel?: string | null;
  guestId?: string | null;
  staffId?: string | null;
  conversationId?: string | null;
  taskId?: string | null;
  value?: number | null;
  durationMs?: number | null;
  metadata?: Record<string, unknown> | null;
}

/** The row shape inserted into analytics_events (jsonb_to_recordset keys). */
export interface EventRow {
  id: string;
  event_type: string;
  occurred_at: string;
  property_id: string;
  channel: string | null;
  guest_id: string | null;
  staff_id: string | null;
  conversation_id: string | null;
  task_id: string | null;
  value: number | null;
  duration_ms: number | null;
  metadata: Record<string, unknown>;
}

export interface ValidationRules {
  /** Events may be at most this far in the future (clock skew). @default 5 min */
  readonly maxFutureMs: number;
  /** Events older than the raw-event retention are refused (they would be deleted at once). */
  readonly retentionDays: number;
  readonly maxIdLength: number;
  readonly maxDimensionLength: number;
  readonly maxMetadataBytes: number;
}

export const DEFAULT_RULES: ValidationRules = {
  maxFutureMs: 5 * 60_000,
  retentionDays: 90,
  maxIdLength: 128,
  maxDimensionLength: 256,
  maxMetadataBytes: 16 * 1024,
};

const KNOWN = new Set([
  'id',
  'eventType',
  'timestamp',
  'propertyId',
  'channel',
  'guestId',
  'staffId',
  'conversationId',
  'taskId',
  'value',
  'durationMs',
  'metadata',
]);
const DIMENSIONS = ['channel', 'guestId', 'staffId', 'conversationId', 'taskId'] as const;
const MAX_INT = 2_147_483_647;

/** `json`: the row serialized for jsonb_to_recordset (metadata serialized once). */
export type Validation = { ok: true; row: EventRow; json: string } | { ok: false; reason: string };

/**
 * Validates one event as received (any JSON value). Every failing rule is listed in the reason,
 * so one look at the rejected row says everything that is wrong with it.
 */
export function validateEvent(input: unknown, now: Date, rules: ValidationRules = DEFAULT_RULES): Validation {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return { ok: false, reason: `event must be a JSON object, not ${Array.isArray(input) ? 'an array' : typeof input}` };
  const e = input as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(e)) if (!KNOWN.has(k)) problems.push(`unknown field "${k}"`);
  const { id, eventType, timestamp, propertyId, value, durationMs, metadata } = e;
  if (typeof id !== 'string' || id.length === 0 || id.length > rules.maxIdLength)
    problems.push(`id must be a string of 1–${rules.maxIdLength} characters`);
  if (typeof eventType !== 'string' || !TYPES.has(eventType))
    problems.push(`eventType "${String(eventType)}" is not one of the 25 event types`);
  // the one rule the read side applies too (a property stored under an id the API refuses could never be read)
  if (typeof propertyId !== 'string' || propertyId.length === 0) problems.push('propertyId is required');
  else {
    const problem = propertyIdProblem(propertyId);
    if (problem) problems.push(`propertyId ${problem}`);
  }
  let at: number | undefined;
  // the calendar is checked: 2025-09-31 is refused, not stored as 1 October (Date.parse rolls it over)
  const parsed = typeof timestamp === 'string' ? parseIsoInstant(timestamp) : undefined;
  if (typeof timestamp !== 'string' || !parsed)
    problems.push('timestamp must be an ISO-8601 instant with a zone (e.g. 2025-10-26T01:30:00Z)');
  else if (!parsed.ok) problems.push(`timestamp ${parsed.reason}`);
  else {
    at = parsed.at.getTime();
    if (at > now.getTime() + rules.maxFutureMs)
      problems.push(`timestamp ${timestamp} is more than ${rules.maxFutureMs / 60_000} min in the future`);
    if (at < now.getTime() - rules.retentionDays * 86_400_000)
      problems.push(`timestamp ${timestamp} is older than the raw-event retention (${rules.retentionDays} days)`);
  }
  for (const d of DIMENSIONS) {
    const v = e[d];
    if (v !== undefined && v !== null && (typeof v !== 'string' || v.length === 0 || v.length > rules.maxDimensionLength))
      problems.push(`${d} must be a non-empty string of at most ${rules.maxDimensionLength} characters`);
  }
  if (value !== undefined && value !== null && (typeof value !== 'number' || !Number.isFinite(value)))
    problems.push('value must be a finite number');
  if (
    durationMs !== undefined &&
    durationMs !== null &&
    (typeof durationMs !== 'number' || !Number.isInteger(durationMs) || durationMs < 0 || durationMs > MAX_INT)
  )
    problems.push(`durationMs must be an integer from 0 to ${MAX_INT}`);
  if (eventType === 'satisfaction.rating_received' && !(typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 5))
    problems.push('a satisfaction.rating_received event needs value 1–5 (an integer rating)');
  let metadataJson = '{}';
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) problems.push('metadata must be a JSON object');
    else {
      metadataJson = JSON.stringify(metadata);
      const bytes = metadataJson.length < rules.maxMetadataBytes / 4 ? metadataJson.length : Buffer.byteLength(metadataJson);
      if (bytes > rules.maxMetadataBytes) problems.push(`metadata is ${bytes} bytes, more than ${rules.maxMetadataBytes}`);
      // a real NUL character (in a key or a value), not the six characters `\u0000` of ordinary text
      if (containsNul(metadata)) problems.push('metadata contains a NUL character (U+0000), which PostgreSQL cannot store');
    }
  }
  for (const k of ['id', 'propertyId', ...DIMENSIONS] as const)
    if (typeof e[k] === 'string' && (e[k] as string).includes('\u0000')) problems.push(`${k} contains a NUL character`);
  if (problems.length > 0) return { ok: false, reason: problems.join('; ') };
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const row: Omit<EventRow, 'metadata'> = {
    id: id as string,
    event_type: eventType as string,
    occurred_at: new Date(at as number).toISOString(),
    property_id: propertyId as string,
    channel: str(e.channel),
    guest_id: str(e.guestId),
    staff_id: str(e.staffId),
    conversation_id: str(e.conversationId),
    task_id: str(e.taskId),
    value: typeof value === 'number' ? value : null,
    duration_ms: typeof durationMs === 'number' ? durationMs : null,
  };
  const json = `${JSON.stringify(row).slice(0, -1)},"metadata":${metadataJson}}`;
  return { ok: true, row: { ...row, metadata: (metadata as Record<string, unknown> | null | undefined) ?? {} }, json };
}

/**
 * Whether a JSON value holds a NUL character in any key or string (what PostgreSQL's jsonb refuses).
 * Text that merely reads `\u0000` (a backslash, then u0000) is ordinary text: jsonb stores it.
 * Iterative: metadata nested deep is no stack overflow.
 */
export function containsNul(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return true;
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\u0000')) return true;
        stack.push(x);
      }
    }
  }
  return false;
}

/** The id of a raw event, when it has a usable one (for the rejected row). */
export function rawEventId(input: unknown): string | null {
  if (typeof input === 'object' && input !== null && 'id' in input) {
    const id = (input as { id: unknown }).id;
    if (typeof id === 'string' && id.length > 0) return id.slice(0, 512).replaceAll('\u0000', '');
  }
  return null;
}
