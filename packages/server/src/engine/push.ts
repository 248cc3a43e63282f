/**
 * Push: apply a batch of mutations in one write transaction.
 *
 * - Idempotent by (clientId, mutationId): a mutation already applied (or rejected) returns
 *   its stored result and applies nothing; a duplicate id inside one batch likewise.
 * - Named mutations run their server mutator (authoritative; the client's optimistic
 *   cells are ignored); unnamed ones apply their cells as-is. Either may be rejected
 *   (per-mutation result); a rejected mutation applies nothing, the others still apply.
 * - Everything commits atomically; the caller acknowledges only after this resolves.
 */
import {
  type Cell,
  DELETED_FIELD,
  flattenDocument,
  type HlcClock,
  ID_FIELD,
  isValidCollectionName,
  isValidId,
  MutationRejectedError,
  type MutationResult,
  type Mutator,
  type Mutators,
  type MutatorTx,
  OmniSyncError,
  type PushRequest,
  ValidationError,
  validateCell,
  type WireMutation,
} from '@omnisync/core';
import type { DocKey, DocWrite, StorageWriter } from '../storage/storage.js';
import type { Logger } from '../util/logger.js';
import type { AuthContext } from './auth.js';
import type { Authorize } from './options.js';
import { type DocChangeEvent, WorkingDoc } from './working-doc.js';

/** What a push produced. */
export interface PushOutcome {
  readonly results: MutationResult[];
  /** Head version after the commit. */
  readonly cursor: number;
  /** Committed document changes, in version order (for fan-out; built only when asked). */
  readonly events: () => DocChangeEvent[];
}

/** What push needs from the engine. */
export interface PushDeps {
  readonly hlc: HlcClock;
  readonly mutators: Mutators | undefined;
  readonly authorize: Authorize | undefined;
  readonly log: Logger;
}

const docKey = (collection: string, id: string) => `${collection}\u0000${id}`;

const rejected = (id: string, code: string, message: string): MutationResult => ({
  id,
  status: 'rejected',
  error: { code, message },
});

/** Apply a validated push request inside a write transaction. */
export async function applyPush(
  deps: PushDeps,
  w: StorageWriter,
  auth: AuthContext,
  req: PushRequest,
): Promise<PushOutcome> {
  const docs = new Map<string, WorkingDoc>();
  const load = async (keys: Iterable<DocKey>) => {
    const missing: DocKey[] = [];
    const asked = new Set<string>();
    for (const k of keys) {
      const key = docKey(k.collection, k.id);
      if (docs.has(key) || asked.has(key)) continue;
      asked.add(key);
      missing.push(k);
    }
    if (missing.length === 0) return;
    for (const d of await w.loadDocs(missing)) docs.set(docKey(d.collection, d.id), new WorkingDoc(d));
  };

  const done = await w.findMutations(req.clientId, [...new Set(req.mutations.map((m) => m.id))]);
  const mutatorOf = (m: WireMutation): Mutator<any> | undefined =>
    m.name !== undefined && deps.mutators && Object.hasOwn(deps.mutators, m.name)
      ? deps.mutators[m.name]
      : undefined;

  // One round trip for every document the plain mutations touch.
  const plainGroups = new Map<WireMutation, Cell[][]>();
  const firsts: Cell[] = [];
  for (const m of req.mutations) {
    if (done.has(m.id) || mutatorOf(m)) continue;
    const groups = groupByDoc(m.changes as Cell[]);
    plainGroups.set(m, groups);
    for (const g of groups) firsts.push(g[0]!);
  }
  await load(firsts);

  const results: MutationResult[] = [];
  const fresh: MutationResult[] = [];
  const seen = new Map<string, MutationResult>();
  for (const m of req.mutations) {
    const previous = done.get(m.id) ?? seen.get(m.id);
    if (previous) {
      results.push(previous);
      continue;
    }
    const result = await applyOne(deps, auth, req.clientId, m, mutatorOf(m), plainGroups.get(m), docs, load);
    seen.set(m.id, result);
    results.push(result);
    fresh.push(result);
  }

  let version = await w.head();
  const writes: DocWrite[] = [];
  const changed: WorkingDoc[] = [];
  for (const doc of docs.values()) {
    if (!doc.changed) continue;
    writes.push(doc.toWrite(++version));
    changed.push(doc);
  }
  await w.writeDocs(writes);
  if (fresh.length > 0) await w.recordMutations(req.clientId, fresh, version);
  return {
    results,
    cursor: version,
    events: () => changed.map((doc, i) => doc.toEvent(writes[i]!.version, writes[i]!)),
  };
}

/** Cells grouped by document, in first-seen order; consecutive cells of one document need no lookup. */
function groupByDoc(cells: readonly Cell[]): Cell[][] {
  const groups: Cell[][] = [];
  let index: Map<string, Cell[]> | undefined;
  let last: Cell[] | undefined;
  for (const c of cells) {
    if (last && last[0]!.id === c.id && last[0]!.collection === c.collection) {
      last.push(c);
      continue;
    }
    if (groups.length > 0) {
      if (!index) {
        index = new Map();
        for (const g of groups) index.set(docKey(g[0]!.collection, g[0]!.id), g);
      }
      const g = index.get(docKey(c.collection, c.id));
      if (g) {
        g.push(c);
        last = g;
        continue;
      }
    }
    last = [c];
    groups.push(last);
    index?.set(docKey(c.collection, c.id), last);
  }
  return groups;
}

async function applyOne(
  deps: PushDeps,
  auth: AuthContext,
  clientId: string,
  m: WireMutation,
  mutator: Mutator<any> | undefined,
  plain: Cell[][] | undefined,
  docs: Map<string, WorkingDoc>,
  load: (keys: Iterable<DocKey>) => Promise<void>,
): Promise<MutationResult> {
  let groups: Cell[][];
  if (mutator) {
    if (deps.authorize && !(await deps.authorize(auth, { op: 'mutate', name: m.name! })))
      return rejected(m.id, 'forbidden', `You may not run mutation ${JSON.stringify(m.name)}.`);
    try {
      groups = groupByDoc(await runMutator(deps, auth, clientId, m, mutator, docs, load));
    } catch (err) {
      if (!(err instanceof MutationRejectedError))
        deps.log.warn({ err, mutation: m.name }, 'mutator threw; mutation rejected');
      const message = err instanceof Error ? err.message : String(err);
      return rejected(m.id, 'mutation_rejected', message);
    }
  } else if (m.name !== undefined && deps.mutators) {
    return rejected(
      m.id,
      'mutation_rejected',
      `Unknown mutation ${JSON.stringify(m.name)}; this server defines ${Object.keys(deps.mutators).join(', ') || 'none'}. Deploy the mutator to the server, or push plain changes.`,
    );
  } else {
    groups = plain ?? groupByDoc(m.changes as Cell[]);
    if (deps.authorize) {
      for (const g of groups) {
        const { collection, id } = g[0]!;
        if (!(await deps.authorize(auth, { op: 'write', collection, id })))
          return rejected(m.id, 'forbidden', `You may not write ${collection}/${id}.`);
      }
    }
  }
  await load(groups.map((g) => g[0]!));
  for (const g of groups) docs.get(docKey(g[0]!.collection, g[0]!.id))!.apply(g);
  return { id: m.id, status: 'applied' };
}

/** Run a named mutator against the batch's working documents; returns the cells it wrote. */
async function runMutator(
  deps: PushDeps,
  auth: AuthContext,
  clientId: string,
  m: WireMutation,
  mutator: Mutator<any>,
  docs: Map<string, WorkingDoc>,
  load: (keys: Iterable<DocKey>) => Promise<void>,
): Promise<Cell[]> {
  const written: Cell[] = [];
  const staged = new Map<string, Cell[]>();
  const check = (collection: string, id: string) => {
    if (!isValidCollectionName(collection))
      throw new ValidationError(
        `Mutator ${m.name}: collection ${JSON.stringify(collection)} is not a valid name.`,
      );
    if (!isValidId(id))
      throw new ValidationError(`Mutator ${m.name}: document id ${JSON.stringify(id)} is not valid.`);
  };
  const view = async (collection: string, id: string): Promise<WorkingDoc> => {
    check(collection, id);
    await load([{ collection, id }]);
    const key = docKey(collection, id);
    const base = docs.get(key)!;
    // Server writes must beat what the mutator read, whatever the server's wall clock says.
    const newest = base.newestHlc();
    if (newest !== undefined && newest > deps.hlc.last) {
      try {
        deps.hlc.receive(newest);
      } catch {
        // A stored stamp beyond the drift limit: keep our clock; LWW still orders by stamp.
      }
    }
    const mine = staged.get(key);
    if (!mine) return base;
    const copy = base.clone();
    copy.apply(mine);
    return copy;
  };
  const stage = (cells: Cell[]) => {
    for (let i = 0; i < cells.length; i++) validateCell(cells[i], i);
    for (const c of cells) {
      written.push(c);
      const key = docKey(c.collection, c.id);
      const list = staged.get(key);
      if (list) list.push(c);
      else staged.set(key, [c]);
    }
  };
  const tx: MutatorTx = {
    clientId,
    mutationId: m.id,
    userId: auth.userId,
    location: 'server',
    async get(collection, id) {
      return (await view(collection, id)).current();
    },
    async set(collection, id, patch) {
      const doc = await view(collection, id);
      if (Object.hasOwn(patch, ID_FIELD) && patch[ID_FIELD] !== id)
        throw new ValidationError(
          `Mutator ${m.name}: set(${collection}, ${id}) got a patch with a different id.`,
        );
      const hlc = deps.hlc.now();
      const cells: Cell[] = flattenDocument(patch as Record<string, unknown>).map(([field, value]) => ({
        collection,
        id,
        field,
        value,
        hlc,
      }));
      if (doc.current() === undefined) cells.push({ collection, id, field: ID_FIELD, value: id, hlc });
      stage(cells);
    },
    async delete(collection, id) {
      check(collection, id);
      stage([{ collection, id, field: DELETED_FIELD, value: true, hlc: deps.hlc.now() }]);
    },
    reject(reason: string): never {
      throw new MutationRejectedError(reason);
    },
  };
  try {
    await mutator(tx, m.args);
  } catch (err) {
    if (err instanceof OmniSyncError || err instanceof Error) throw err;
    throw new MutationRejectedError(String(err));
  }
  return written;
}
