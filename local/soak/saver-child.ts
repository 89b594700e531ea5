/**
 * The app's LangGraph side: a real `StateGraph` (MessagesAnnotation) checkpointed by the real
 * `RedisSaver` / `ShallowRedisSaver` of `@langchain/langgraph-checkpoint-redis`, against the soak's
 * Redis, in a process whose wall clock IS the soak's virtual clock (virtual-date.ts, installed
 * before LangGraph is loaded): the savers stamp `checkpoint_ts`, `ts` and uuid6 ids with
 * `Date.now()`, and the archive judges a thread's age from those. local/soak/saver-threads.ts
 * starts it once per soak and sends it turns.
 *
 * stdin, one JSON object a line (a SaverTurn): a thread's turn — the messages the user sends (new
 * ones, and edits: an earlier id with new content, which MessagesAnnotation's reducer puts in
 * place of the message with that id) and the reply the graph's node answers with, through the
 * `booking` subgraph (namespace `booking:<task id>`) when `sub` is set.
 * stdout, one JSON object a line: `{"ready":true}` once loaded, then per turn
 * `{"seq","ok":true,"messages":[{id,content}],"at"}` (the graph's state after graph.invoke
 * resolved, every checkpoint written; `at` the virtual time then) or `{"seq","ok":false,"error"}`.
 *
 *   tsx local/soak/saver-child.ts '{"redisUrl":…,"clock":{start,speed,realStart}}'
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { toolCallAnswer } from '../fixtures';
import { saverClient } from '../saver-client';
import { installVirtualDate, type VirtualDateSpec } from './virtual-date';

export interface SaverChildSpec {
  readonly redisUrl: string;
  readonly clock: VirtualDateSpec;
}

export interface SaverMessage {
  readonly id: string;
  readonly role: 'user' | 'assistant';
  /** Its text: the checker and the journal compare it as it is written (the child may send it as a list of parts: `shapeOf`). */
  readonly content: string;
}

export interface SaverTurn {
  readonly seq: number;
  readonly thread: string;
  readonly kind: 'full' | 'shallow';
  /** Through the `booking` subgraph (a namespace with a colon). */
  readonly sub: boolean;
  /** What the user sends: new messages, and earlier ids with new content (edits). */
  readonly input: readonly SaverMessage[];
  /** What the graph's node answers with. */
  readonly reply: SaverMessage;
}

export type SaverAnswer =
  | { readonly seq: number; readonly ok: true; readonly messages: { id: string; content: string }[]; readonly at: string }
  | { readonly seq: number; readonly ok: false; readonly error: string };

const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** A message's shape, from its id: a third plain text, a third a list of parts, a third (answers) with a tool call. */
export function shapeOf(id: string): 'text' | 'parts' | 'tool' {
  let h = 0;
  for (const ch of id) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  return (['text', 'parts', 'tool'] as const)[h % 3] as 'text' | 'parts' | 'tool';
}

async function main(spec: SaverChildSpec): Promise<void> {
  installVirtualDate(spec.clock);
  // Loaded only now, so that whatever they read of the clock is virtual.
  const { AIMessage, HumanMessage } = await import('@langchain/core/messages');
  const { END, MessagesAnnotation, START, StateGraph } = await import('@langchain/langgraph');
  const { RedisSaver } = await import('@langchain/langgraph-checkpoint-redis');
  const { ShallowRedisSaver } = await import('@langchain/langgraph-checkpoint-redis/shallow');
  const redis = new Redis(spec.redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 3_000, connectTimeout: 2_000 });
  redis.on('error', () => undefined);
  const client = saverClient(redis) as never;
  // The saver's own TTL (24 h, in minutes), applied by the saver with EXPIRE: a wall-clock TTL.
  const ttl = { defaultTTL: 24 * 60 };

  type Config = { configurable?: { reply?: SaverMessage; sub?: boolean } };
  const replyOf = (config: Config) => ({ messages: [message(config.configurable?.reply as SaverMessage)] });
  /**
   * A message as the app's model layer makes it, in the shapes the archive must read (chosen by its
   * id, so a resent or edited message keeps its shape): plain text; a list of parts (the text split
   * in two, and an image for the user's); an answer with a tool call, token usage and the model.
   * Its text (what `.text` gives, and what the archive stores) is always `m.content`.
   */
  const message = (m: SaverMessage) => {
    const shape = shapeOf(m.id);
    const half = Math.floor(m.content.length / 2);
    const parts = [
      { type: 'text', text: m.content.slice(0, half) },
      { type: 'text', text: m.content.slice(half) },
    ];
    if (m.role === 'user')
      return new HumanMessage({
        id: m.id,
        content: shape === 'parts' ? [...parts, { type: 'image_url', image_url: { url: `https://example.com/${m.id}.png` } }] : m.content,
      });
    if (shape === 'parts') return new AIMessage({ id: m.id, content: parts });
    if (shape === 'tool') return new AIMessage({ id: m.id, content: m.content, ...toolCallAnswer(`call-${m.id}`) });
    return new AIMessage({ id: m.id, content: m.content });
  };
  const booking = new StateGraph(MessagesAnnotation)
    .addNode('confirm', async (_s: unknown, config: Config) => replyOf(config))
    .addEdge(START, 'confirm')
    .addEdge('confirm', END)
    .compile();
  const build = (kind: SaverTurn['kind']) =>
    new StateGraph(MessagesAnnotation)
      .addNode('bot', async (_s: unknown, config: Config) => replyOf(config))
      .addNode('booking', booking)
      .addConditionalEdges(START, (_s: unknown, config: Config) => (config.configurable?.sub ? 'booking' : 'bot'), ['bot', 'booking'])
      .addEdge('bot', END)
      .addEdge('booking', END)
      .compile({ checkpointer: kind === 'full' ? new RedisSaver(client, ttl) : new ShallowRedisSaver(client, ttl) });
  const graphs = { full: build('full'), shallow: build('shallow') };

  const turn = async (t: SaverTurn): Promise<SaverAnswer> => {
    try {
      const input = t.input.map(message);
      const out = await graphs[t.kind].invoke(
        { messages: input },
        { configurable: { thread_id: t.thread, reply: t.reply, sub: t.sub }, recursionLimit: 10 },
      );
      const at = new Date().toISOString();
      const messages = (out.messages as { id?: string; text: string }[]).map((m) => ({ id: String(m.id), content: m.text }));
      return { seq: t.seq, ok: true, messages, at };
    } catch (e) {
      return { seq: t.seq, ok: false, error: String((e as Error).message ?? e).slice(0, 300) };
    }
  };

  say({ ready: true });
  // One turn at a time, in order.
  let chain = Promise.resolve();
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    const t = JSON.parse(line) as SaverTurn;
    chain = chain.then(async () => {
      say(await turn(t));
    });
  });
  await new Promise<void>((r) => lines.once('close', () => r()));
  await chain;
  redis.disconnect();
}

if (require.main === module) {
  main(JSON.parse(process.argv[2] ?? '{}') as SaverChildSpec).then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
