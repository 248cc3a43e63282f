/**
 * GraphQLBinding (postgraphile dialect) against a real PostGraphile 5 on the local Postgres
 * (the server of the binding tests, packages/client/test/bindings/postgraphile-server.ts),
 * next to the same GraphQL operations posted with plain fetch (what an app without OmniSync
 * sends: one aliased mutation document per transaction, one list query) and to pg directly
 * (the database underneath, the floor).
 */
import pg from 'pg';
import WebSocket from 'ws';
import { createClient, createState, defineState } from '../packages/client/src/index.ts';
import { GraphQLBinding } from '../packages/client/src/graphql.ts';
import { startPostGraphile } from '../packages/client/test/bindings/postgraphile-server.ts';
import { PG_URL, pgUnreachable } from '../packages/server/test/helpers/pg-url.ts';
import { BATCH, ROWS, settle, STEP_COLUMNS, type StepTimes, stepRows, UPDATES } from './backend-support.ts';
import { type BenchSection, performance } from './lib.ts';

const RUNS = 3;
type Todo = { id: string; title: string; completed: boolean; n: number };
const AUTH = { authorization: 'Bearer ok-bench' };

async function throughBinding(url: string, wsUrl: string): Promise<StepTimes> {
  const app = () => {
    const client = createClient();
    const binding = new GraphQLBinding<Todo>({
      dialect: 'postgraphile',
      endpoint: url,
      wsEndpoint: wsUrl,
      webSocketImpl: WebSocket,
      fields: ['title', 'completed', 'n'],
      headers: () => AUTH,
    });
    const state = createState(client, defineState({ todos: { _binding: binding, _type: [] as Todo[] } }));
    return { client, state, binding };
  };
  const a = app();
  await settle(() => a.state.todos.length);
  let t0 = performance.now();
  for (let b = 0; b < ROWS / BATCH; b++)
    await a.client.transaction(() => {
      for (let i = b * BATCH; i < (b + 1) * BATCH; i++)
        a.state.todos.insert({ id: `r${i}`, title: `row ${i}`, completed: false, n: 0 });
    }).promise;
  const push = performance.now() - t0;
  t0 = performance.now();
  const b = app();
  const loaded = await settle(() => b.state.todos.length);
  const load = performance.now() - t0;
  if (loaded !== ROWS) throw new Error(`GraphQL bench: the fresh client loaded ${loaded} rows`);
  t0 = performance.now();
  await a.client.transaction(() => {
    for (let i = 0; i < UPDATES; i++) a.state.todos.get(`r${i}`)!.n = 1;
  }).promise;
  const updates = performance.now() - t0;
  await Promise.all([a.client.close(), b.client.close(), a.binding.close(), b.binding.close()]);
  return { push, load, updates };
}

/** The same operations as an app would post them by hand. */
async function plainFetch(url: string): Promise<StepTimes> {
  const post = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...AUTH },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: Record<string, unknown>; errors?: unknown };
    if (!res.ok || body.errors) throw new Error(`GraphQL bench: ${JSON.stringify(body.errors)}`);
    return body.data!;
  };
  const mutation = (input: string, name: string, inputs: unknown[]) => {
    const vars: Record<string, unknown> = {};
    const decl: string[] = [];
    const fields: string[] = [];
    inputs.forEach((v, i) => {
      vars[`i${i}`] = v;
      decl.push(`$i${i}: ${input}!`);
      fields.push(`m${i}: ${name}(input: $i${i}) { clientMutationId }`);
    });
    return post(`mutation(${decl.join(', ')}) { ${fields.join(' ')} }`, vars);
  };
  let t0 = performance.now();
  for (let b = 0; b < ROWS / BATCH; b++) {
    const rows = [];
    for (let i = b * BATCH; i < (b + 1) * BATCH; i++)
      rows.push({ todo: { rowId: `r${i}`, title: `row ${i}`, completed: false, n: 0 } });
    await mutation('CreateTodoInput', 'createTodo', rows);
  }
  const push = performance.now() - t0;
  t0 = performance.now();
  const data = await post('{ allTodos { nodes { rowId title completed n } } }');
  const load = performance.now() - t0;
  if ((data.allTodos as { nodes: unknown[] }).nodes.length !== ROWS) throw new Error('direct read lost rows');
  t0 = performance.now();
  await mutation(
    'UpdateTodoByRowIdInput',
    'updateTodoByRowId',
    Array.from({ length: UPDATES }, (_, i) => ({ rowId: `r${i}`, todoPatch: { n: 1 } })),
  );
  return { push, load, updates: performance.now() - t0 };
}

async function pgDirect(schema: string): Promise<StepTimes> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    let t0 = performance.now();
    for (let b = 0; b < ROWS / BATCH; b++) {
      await c.query('BEGIN');
      for (let i = b * BATCH; i < (b + 1) * BATCH; i++)
        await c.query(`INSERT INTO ${schema}.todos VALUES ($1, $2, $3, $4)`, [`r${i}`, `row ${i}`, false, 0]);
      await c.query('COMMIT');
    }
    const push = performance.now() - t0;
    t0 = performance.now();
    if ((await c.query(`SELECT * FROM ${schema}.todos`)).rows.length !== ROWS)
      throw new Error('pg read lost rows');
    const load = performance.now() - t0;
    t0 = performance.now();
    await c.query('BEGIN');
    for (let i = 0; i < UPDATES; i++)
      await c.query(`UPDATE ${schema}.todos SET n = 1 WHERE id = $1`, [`r${i}`]);
    await c.query('COMMIT');
    return { push, load, updates: performance.now() - t0 };
  } finally {
    await c.end();
  }
}

export default async function backendGraphqlBench(): Promise<BenchSection> {
  const title =
    'GraphQL backend: 10k rows through GraphQLBinding and PostGraphile 5 vs the same operations by hand';
  const noPg = await pgUnreachable('backend-graphql bench');
  if (noPg !== undefined) return { title, notes: `Not run: ${noPg}`, columns: ['skipped'], rows: [[noPg]] };
  const ours: StepTimes[] = [];
  const byHand: StepTimes[] = [];
  const floor: StepTimes[] = [];
  const server = await startPostGraphile({ maxRequestLength: 16 << 20 }); // 1,000 inserts are ~150 kB
  try {
    const clear = () => server.db.query(`DELETE FROM ${server.schema}.todos`);
    for (let r = 0; r < RUNS; r++) {
      await clear();
      ours.push(await throughBinding(server.url, server.wsUrl));
      await clear();
      byHand.push(await plainFetch(server.url));
      await clear();
      floor.push(await pgDirect(server.schema));
    }
  } finally {
    await server.close();
  }
  return {
    title,
    notes: `Medians of ${RUNS} runs on one PostGraphile 5 (Amber preset + connection filter, graphql-ws on) over loopback, table emptied between runs; its trigger notifies a change feed on every row. OmniSync: apps built with defineState/createState whose collection has a GraphQLBinding (postgraphile dialect, documents built with the graphql AST and printer, values as variables); PostGraphile runs each mutation field in its own transaction, so a multi-row transaction first reads the rows' pre-images to undo a partial failure (one extra query per transaction). Direct: the same mutation documents (1,000 aliased fields) and one list query posted with fetch. The last rows: pg directly on the same table (the database floor, no GraphQL).`,
    columns: STEP_COLUMNS,
    rows: [
      ...stepRows('PostGraphile (vs fetch by hand)', ours, byHand),
      ...stepRows('PostGraphile (vs pg directly)', ours, floor),
    ],
  };
}
