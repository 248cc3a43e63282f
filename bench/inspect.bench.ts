/**
 * The cost of the client's inspection for devtools (issue 15, `client.experimental_inspect`):
 * remote-cell ingest (batches of cells delivered through a source's `applyCells`, as the
 * OmniSync-server source does) and local writes (one transaction per update, confirmed by a
 * source that accepts at once), on a client with inspection off (the default) next to one
 * with it on (default bounds: 16 writes per field, 1,000 fields), in the same run,
 * interleaved. Off, the client checks one boolean where cells arrive and listens to nothing.
 */
import { type Cell, encodeHlc } from '../packages/core/src/index.ts';
import { createClient } from '../packages/client/src/index.ts';
import type { Source, SourceContext } from '../packages/client/src/sources/types.ts';
import { type BenchSection, fmtMs, fmtRate, median, performance } from './lib.ts';

const RUNS = 7;
const BATCHES = 20;
const DOCS_PER_BATCH = 2_500;
const WRITES = 2_000;

type Config = 'off' | 'on';

async function clientOf(config: Config) {
  let ctx: SourceContext | undefined;
  const source: Source = {
    id: 'bench',
    kind: 'remote',
    start(c) {
      ctx = c;
    },
    persist: async () => {},
  };
  const client = createClient({
    clientId: 'bench-me',
    ...(config === 'on' ? { experimental_inspect: true } : {}),
  });
  const todos = client.collection<{ id: string; title: string; n: number }>({ id: 'todos', source });
  await todos.ready;
  return { client, todos, ctx: ctx! };
}

/** `BATCHES` batches of `DOCS_PER_BATCH` documents × 2 cells from another node; the same ids each batch (updates). */
function batches(): Cell[][] {
  const wall = Date.now();
  const out: Cell[][] = [];
  for (let b = 0; b < BATCHES; b++) {
    const cells: Cell[] = [];
    for (let d = 0; d < DOCS_PER_BATCH; d++) {
      const hlc = encodeHlc({ wall, counter: b * DOCS_PER_BATCH + d, node: 'peer' });
      cells.push(
        { collection: 'todos', id: `d${d}`, field: 'title', value: `t${b}`, hlc },
        { collection: 'todos', id: `d${d}`, field: 'n', value: b, hlc },
      );
    }
    out.push(cells);
  }
  return out;
}

async function ingest(config: Config, data: Cell[][]): Promise<number> {
  const { client, ctx } = await clientOf(config);
  const t0 = performance.now();
  for (const cells of data) ctx.applyCells(cells);
  const ms = performance.now() - t0;
  await client.close();
  return ms;
}

async function writes(config: Config): Promise<number> {
  const { client, todos } = await clientOf(config);
  await todos.insert({ id: 'w', title: 'x', n: 0 }).promise;
  const t0 = performance.now();
  let last;
  for (let i = 1; i <= WRITES; i++) last = todos.update('w', { n: i });
  await last!.promise;
  const ms = performance.now() - t0;
  await client.close();
  return ms;
}

export default async function run(): Promise<BenchSection> {
  const data = batches();
  const cells = BATCHES * DOCS_PER_BATCH * 2;
  const t: Record<'ingest' | 'writes', Record<Config, number[]>> = {
    ingest: { off: [], on: [] },
    writes: { off: [], on: [] },
  };
  // Warm-up, then interleaved pairs with the order alternating.
  await ingest('off', data);
  await ingest('on', data);
  await writes('off');
  await writes('on');
  for (let r = 0; r < RUNS; r++) {
    const order: Config[] = r % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const c of order) t.ingest[c].push(await ingest(c, data));
    for (const c of order) t.writes[c].push(await writes(c));
  }
  const row = (what: string, unit: number, k: 'ingest' | 'writes', label: string) => {
    const off = median(t[k].off);
    const on = median(t[k].on);
    return [
      what,
      `${fmtMs(off)} ms (${fmtRate((unit / off) * 1000)} ${label}/s)`,
      `${fmtMs(on)} ms (${fmtRate((unit / on) * 1000)} ${label}/s)`,
      `${on >= off ? '+' : ''}${((on / off - 1) * 100).toFixed(1)} %`,
    ];
  };
  return {
    title: 'Client inspection for devtools: off (default) vs on',
    notes:
      `Same run, interleaved, ${RUNS} runs each after a warm-up; medians. Ingest: ${BATCHES} batches of ${DOCS_PER_BATCH} documents × 2 cells ` +
      `(${cells.toLocaleString('en')} cells) through a source's applyCells into a fresh in-memory client. Writes: ${WRITES} updates of one ` +
      'document, one transaction each, to a source that accepts at once. "On" records every cell into the bounded per-field log ' +
      '(16 writes per field, 1,000 fields: most of the 2,500 ingested documents are evicted, the worst case for its LRU) and every state change.',
    columns: ['workload', 'inspection off', 'inspection on', 'on vs off'],
    rows: [
      row('remote cell ingest', cells, 'ingest', 'cells'),
      row('local writes', WRITES, 'writes', 'writes'),
    ],
  };
}
