/**
 * The real LangGraph JS savers (`RedisSaver`, `ShallowRedisSaver`) over the test Redis: a small
 * adapter with the node-redis methods the savers call, storing exactly what they write — a
 * `json.set` document as its JSON string (the test Redis has no RedisJSON), TTLs kept — and a
 * real `StateGraph` whose run leaves the layouts the archive must read: messages (multi-part
 * content, a tool call, tokens, model), a second channel written alone by the last step (so the
 * last checkpoint carries no messages inline), and a subgraph (a namespace with a colon).
 */
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { Annotation, END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph';
import { RedisSaver } from '@langchain/langgraph-checkpoint-redis';
import { ShallowRedisSaver } from '@langchain/langgraph-checkpoint-redis/shallow';
import type { Redis } from 'ioredis';
import { toolCallAnswer } from '../../local/fixtures';
import { saverClient } from '../../local/saver-client';

export type SaverKind = 'full' | 'shallow';

export function realSaver(redis: Redis, kind: SaverKind) {
  const client = saverClient(redis) as never;
  const ttl = { defaultTTL: 24 * 60 };
  return kind === 'full' ? new RedisSaver(client, ttl) : new ShallowRedisSaver(client, ttl);
}

const State = Annotation.Root({ ...MessagesAnnotation.spec, customer_id: Annotation<string | undefined>() });

/**
 * Runs one conversation through a real graph with a real saver; returns the graph's own state.
 * `turns` > 1: the user writes again after each answer (the same graph resumes the thread; each
 * turn's messages have ids of their own). `fork`: then an edit of the state as it was at the
 * checkpoint before the last one (a time-travel branch: it descends from that one, not from the last).
 */
export async function runRealConversation(
  redis: Redis,
  kind: SaverKind,
  threadId: string,
  turns = 1,
  fork = false,
): Promise<{ messages: BaseMessage[]; customerId: string | undefined }> {
  let turn = 1;
  const n = (id: string) => (turn === 1 ? id : `${id}-t${turn}`);
  const booking = new StateGraph(MessagesAnnotation)
    .addNode('confirm', async () => ({
      messages: [new AIMessage({ content: 'Reserva confirmada para el martes.', id: n(`${threadId}-sub`) })],
    }))
    .addEdge(START, 'confirm')
    .addEdge('confirm', END)
    .compile();
  const graph = new StateGraph(State)
    .addNode('bot', async () => ({
      messages: [new AIMessage({ content: '', id: n(`${threadId}-ai-1`), ...toolCallAnswer('call-1') })],
    }))
    .addNode('tools', async () => ({
      messages: [new ToolMessage({ content: '["10:00","12:30"]', tool_call_id: 'call-1', name: 'find_slots', id: n(`${threadId}-tool`) })],
    }))
    .addNode('booking', booking)
    .addNode('identify', async () => ({ customer_id: `cust-${threadId}` }))
    .addEdge(START, 'bot')
    .addEdge('bot', 'tools')
    .addEdge('tools', 'booking')
    .addEdge('booking', 'identify')
    .addEdge('identify', END)
    .compile({ checkpointer: realSaver(redis, kind) });
  const config = { configurable: { thread_id: threadId } };
  await graph.invoke(
    {
      messages: [
        new HumanMessage({
          content: [
            { type: 'text', text: 'Quiero ' },
            { type: 'text', text: 'una cita' },
            { type: 'image_url', image_url: { url: 'https://example.com/pelo.png' } },
          ],
          id: `${threadId}-h-1`,
        }),
      ],
    },
    config,
  );
  for (turn = 2; turn <= turns; turn++)
    await graph.invoke({ messages: [new HumanMessage({ content: `¿Y el turno ${turn}?`, id: `${threadId}-h-${turn}` })] }, config);
  if (fork) {
    const before = (await graph.getState(config)).parentConfig ?? config;
    await graph.updateState(before, { messages: [new HumanMessage({ content: `Otra rama (${turn})`, id: `${threadId}-fork` })] });
    return { messages: [], customerId: undefined };
  }
  const state = await graph.getState(config);
  return { messages: state.values.messages as BaseMessage[], customerId: state.values.customer_id as string | undefined };
}
