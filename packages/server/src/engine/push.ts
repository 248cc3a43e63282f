/**
 * Push: apply a batch of mutations in one write transaction.
 *
 * - Idempotent by (clientId, mutationId): a mutation already applied (or rejected) returns
 *   its stored result and applies nothing; a duplicate id inside one batch likewise.
 * - Named mutations run their server mutator (authoritative; the client's optimistic
 *   cells are ignored); unnamed ones apply their cells as-is. Either may be rejected
 *   (per-mutation result); a rejected mutation applies nothing, the others still apply.
 * - With permission rules, every document a mutation writes (its cells, or its mutator's) is
 *   checked before anything of it applies: insert on the new document, update on the old
 *   and the new one, delete on the old one, the write mask on the fields written. One refused
 *   document rejects the whole mutation (`permission_denied`, the rule and clause that
 *   decided); the others of the push still apply.
 * - Everything commits atomically; the caller acknowledges only after this resolves.
 */
import {
  type Cell,
  checkCellKeySize,
  DELETED_FIELD,
  flattenDocument,
  type HlcClock,
  ID_FIELD,
  inexactKeyReason,
  isExactKey,
  isValidCollectionName,
  isValidId,
  MutationRejectedError,
  type MutationResult,
  type Mutator,
  type Mutators,
  type MutatorTx,
  OmniSyncError,
  type Principal,
  type PushRequest,
  type RulesEvaluator,
  toWireError,
  unflattenDocument,
  ValidationError,
  validateCell,
  type WireMutation,
  type WriteCheckInput,
} from '@omnisync/core';
import type { DocKey, DocWrite, StorageWriter } from '../storage/storage.js';
import type { Logger } from '../util/logger.js';
import type { AuthContext } from './auth.js';
import type { Authorize } from './options.js';
import { principalOf } from './rules.js';
import { type DocChangeEvent, type DocCheckpoint, WorkingDoc } from './working-doc.js';

/** What a push produced. */
export interface PushOutcome {
  readonly results: MutationResult[];
  /** Head version before the commit (its changes are the versions after it, up to `cursor`). */
  readonly from: number;
  /** Head version after the commit. */
  readonly cursor: number;
  /** Committed document changes, in version order (for fan-out; built only when asked). */
  readonly events: () => DocChangeEvent[];
  /** Cells written by this commit (the ingest metric). */
  readonly cellsWritten: number;
}

/** What push needs from the engine. */
export interface PushDeps {
  readonly hlc: HlcClock;
  readonly mutators: Mutators | undefined;
  readonly authorize: Authorize | undefined;
  /** The permission rules' evaluator: every written document is checked (undefined: no rules). */
  readonly rules?: RulesEvaluator | undefined;
  readonly log: Logger;
}

/** The rules and the principal a push is checked with. */
export interface RulesCheck {
  readonly rules: RulesEvaluator;
  readonly principal: Principal;
}

/** The batch's working documents by (collection, id), in the order they were loaded. */
class DocTable {
  readonly #byCollection = new Map<string, Map<string, WorkingDoc>>();
  /** Load order: versions are given in this order. */
  readonly order: WorkingDoc[] = [];

  get(collection: string, id: string): WorkingDoc | undefined {
    return this.#byCollection.get(collection)?.get(id);
  }

  add(doc: WorkingDoc): void {
    let ids = this.#byCollection.get(doc.collection);
    if (!ids) this.#byCollection.set(doc.collection, (ids = new Map()));
    ids.set(doc.id, doc);
    this.order.push(doc);
  }
}

/** Loads the documents not in the table yet (each once) into it. */
type Loader = (keys: readonly DocKey[]) => Promise<void>;

const rejected = (id: string, code: string, message: string): MutationResult => ({
  id,
  status: 'rejected',
  error: { code, message },
});

type RejectedError = Extract<MutationResult, { status: 'rejected' }>['error'];

/** The set a field path belongs to (`tags[x]` → `tags`): what a write mask names. */
const maskPath = (field: string) =>
  field.charCodeAt(field.length - 1) === 93 /* ] */ ? field.slice(0, field.indexOf('[')) : field;

/**
 * Merge a mutation's cells, grouped by document, checking each document against the rules
 * first (insert: the new document; update: the old and the new one; delete: the old one;
 * the fields written: the write mask). Cells are merged to see the new document and put back
 * (every document of the mutation) when one is refused: a refused mutation changes nothing.
 * @internal (exported for bench/rules.bench.ts)
 */
export function applyChecked(
  mutationId: string,
  groups: readonly Cell[][],
  docOf: (collection: string, id: string) => WorkingDoc,
  check: RulesCheck,
): MutationResult {
  const { rules, principal } = check;
  let saved: [WorkingDoc, DocCheckpoint][] | undefined;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    const doc = docOf(g[0]!.collection, g[0]!.id);
    const { collection, id } = doc;
    const old = doc.current();
    let deletes = false;
    const fields: string[] = [];
    for (const c of g) {
      if (c.field === DELETED_FIELD) deletes = true;
      else if (c.field !== ID_FIELD) fields.push(maskPath(c.field));
    }
    let input: WriteCheckInput;
    const last = i === groups.length - 1;
    if (deletes) {
      // Delete wins: the other cells of a deleting write are dropped; a missing document is checked as `{ id }`.
      input = { collection, id, operation: 'delete', principal, old: old ?? { id } };
      const refused = refusal(mutationId, rules, input, saved);
      if (refused) return refused;
      if (!last) (saved ??= []).push([doc, doc.checkpoint()]);
      doc.apply(g);
      continue;
    }
    (saved ??= []).push([doc, doc.checkpoint()]);
    doc.apply(g);
    // A write to a deleted document is dropped by the merge: checked as what it asked for.
    const after = doc.current() ?? unflattenDocument(id, g);
    input =
      old === undefined
        ? { collection, id, operation: 'insert', principal, new: after, fields }
        : { collection, id, operation: 'update', principal, old, new: after, fields };
    const refused = refusal(mutationId, rules, input, saved);
    if (refused) return refused;
  }
  return { id: mutationId, status: 'applied' };
}

/** The rejection when the rules refuse `input` (putting the documents merged so far back), or undefined. */
function refusal(
  mutationId: string,
  rules: RulesEvaluator,
  input: WriteCheckInput,
  saved: [WorkingDoc, DocCheckpoint][] | undefined,
): MutationResult | undefined {
  try {
    rules.assertWrite(input);
    return undefined;
  } catch (err) {
    if (saved) for (let i = saved.length - 1; i >= 0; i--) saved[i]![0].restore(saved[i]![1]);
    // The evaluator's details are JSON (collection, id, operation, rule, clause).
    return { id: mutationId, status: 'rejected', error: toWireError(err).error as RejectedError };
  }
}

/** Apply a validated push request inside a write transaction. */
export async function applyPush(
  deps: PushDeps,
  w: StorageWriter,
  auth: AuthContext,
  req: PushRequest,
): Promise<PushOutcome> {
  const docs = new DocTable();
  const load: Loader = async (keys) => {
    let missing: DocKey[] | undefined;
    let asked: Map<string, Set<string>> | undefined;
    for (const k of keys) {
      if (docs.get(k.collection, k.id)) continue;
      if (missing === undefined) {
        missing = [k];
        continue;
      }
      if (!asked) {
        asked = new Map();
        const first = missing[0]!;
        asked.set(first.collection, new Set([first.id]));
      }
      let ids = asked.get(k.collection);
      if (!ids) asked.set(k.collection, (ids = new Set()));
      if (ids.has(k.id)) continue;
      ids.add(k.id);
      missing.push(k);
    }
    if (missing === undefined) return;
    for (const d of await w.loadDocs(missing)) docs.add(new WorkingDoc(d));
  };

  const docOf = (collection: string, id: string) => docs.get(collection, id)!;
  const rulesCheck: RulesCheck | undefined = deps.rules
    ? { rules: deps.rules, principal: principalOf(auth) }
    : undefined;
  const mutations = req.mutations;
  const ids = new Set<string>();
  for (const m of mutations) ids.add(m.id);
  const done = await w.findMutations(req.clientId, [...ids]);
  // Only a batch that repeats a mutation id needs to remember results within the batch.
  const seen = ids.size < mutations.length ? new Map<string, MutationResult>() : undefined;
  const mutatorOf = (m: WireMutation): Mutator<any> | undefined =>
    m.name !== undefined && deps.mutators && Object.hasOwn(deps.mutators, m.name)
      ? deps.mutators[m.name]
      : undefined;

  // One round trip for every document the plain mutations touch.
  const plainGroups: (Cell[][] | undefined)[] = new Array(mutations.length);
  const firsts: Cell[] = [];
  for (let i = 0; i < mutations.length; i++) {
    const m = mutations[i]!;
    // Named mutations run their mutator, or are rejected when the server has none of that name.
    if (done.has(m.id) || (m.name !== undefined && deps.mutators)) continue;
    const groups = groupByDoc(m.changes as Cell[]);
    plainGroups[i] = groups;
    for (const g of groups) firsts.push(g[0]!);
  }
  await load(firsts);

  const results: MutationResult[] = new Array(mutations.length);
  const fresh: MutationResult[] = [];
  for (let i = 0; i < mutations.length; i++) {
    const m = mutations[i]!;
    const previous = done.get(m.id) ?? seen?.get(m.id);
    if (previous) {
      results[i] = previous;
      continue;
    }
    const plain = plainGroups[i];
    // Plain changes without a permission hook: their documents are loaded, nothing to await.
    const result =
      plain && !deps.authorize
        ? rulesCheck
          ? applyChecked(m.id, plain, docOf, rulesCheck)
          : applyGroups(m.id, plain, docs)
        : await applyOne(deps, auth, rulesCheck, req.clientId, m, mutatorOf(m), plain, docs, load);
    seen?.set(m.id, result);
    results[i] = result;
    fresh.push(result);
  }

  const from = await w.head();
  let version = from;
  const writes: DocWrite[] = [];
  const changed: WorkingDoc[] = [];
  for (const doc of docs.order) {
    if (!doc.changed) continue;
    writes.push(doc.toWrite(++version));
    changed.push(doc);
  }
  await w.writeDocs(writes);
  let cellsWritten = 0;
  for (const wr of writes) cellsWritten += wr.cells.length;
  if (fresh.length > 0) await w.recordMutations(req.clientId, fresh, version);
  return {
    results,
    from,
    cursor: version,
    events: () => changed.map((doc, i) => doc.toEvent(writes[i]!.version, writes[i]!)),
    cellsWritten,
  };
}

/**
 * Cells grouped by document, in first-seen order. The usual mutation writes one document:
 * its cell list is the one group, as received (no copy).
 */
function groupByDoc(cells: readonly Cell[]): Cell[][] {
  const n = cells.length;
  if (n === 0) return [];
  const { collection, id } = cells[0]!;
  let i = 1;
  while (i < n && cells[i]!.id === id && cells[i]!.collection === collection) i++;
  if (i === n) return [cells as Cell[]];
  const groups: Cell[][] = [];
  const index = new Map<string, Map<string, Cell[]>>();
  let last: Cell[] | undefined;
  for (const c of cells) {
    if (last && last[0]!.id === c.id && last[0]!.collection === c.collection) {
      last.push(c);
      continue;
    }
    let ids = index.get(c.collection);
    if (!ids) index.set(c.collection, (ids = new Map()));
    const g = ids.get(c.id);
    if (g) {
      g.push(c);
      last = g;
      continue;
    }
    last = [c];
    groups.push(last);
    ids.set(c.id, last);
  }
  return groups;
}

/** Merge a mutation's cells, grouped by document, into the (loaded) working documents. */
function applyGroups(mutationId: string, groups: readonly Cell[][], docs: DocTable): MutationResult {
  for (const g of groups) docs.get(g[0]!.collection, g[0]!.id)!.apply(g);
  return { id: mutationId, status: 'applied' };
}

async function applyOne(
  deps: PushDeps,
  auth: AuthContext,
  rulesCheck: RulesCheck | undefined,
  clientId: string,
  m: WireMutation,
  mutator: Mutator<any> | undefined,
  plain: Cell[][] | undefined,
  docs: DocTable,
  load: Loader,
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
  return rulesCheck
    ? applyChecked(m.id, groups, (c, id) => docs.get(c, id)!, rulesCheck)
    : applyGroups(m.id, groups, docs);
}

/** Run a named mutator against the batch's working documents; returns the cells it wrote. */
async function runMutator(
  deps: PushDeps,
  auth: AuthContext,
  clientId: string,
  m: WireMutation,
  mutator: Mutator<any>,
  docs: DocTable,
  load: Loader,
): Promise<Cell[]> {
  const written: Cell[] = [];
  const staged = new Map<string, Cell[]>();
  const check = (collection: string, id: string) => {
    if (!isValidCollectionName(collection))
      throw new ValidationError(
        `Mutator ${m.name}: collection ${JSON.stringify(collection)} is not a valid name.`,
      );
    if (!isValidId(id) || !isExactKey(id))
      throw new ValidationError(
        `Mutator ${m.name}: document id ${JSON.stringify(id)} is not valid${isValidId(id) ? ` (it ${inexactKeyReason(id)})` : ''}.`,
      );
  };
  const view = async (collection: string, id: string): Promise<WorkingDoc> => {
    check(collection, id);
    await load([{ collection, id }]);
    const key = `${collection}\u0000${id}`;
    const base = docs.get(collection, id)!;
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
    for (let i = 0; i < cells.length; i++) {
      validateCell(cells[i], i);
      checkCellKeySize(cells[i]!, `Mutator ${m.name}: cell #${i}`);
    }
    for (const c of cells) {
      written.push(c);
      const key = `${c.collection}\u0000${c.id}`;
      const list = staged.get(key);
      if (list) list.push(c);
      else staged.set(key, [c]);
    }
  };
  const tx: MutatorTx = {
    clientId,
    mutationId: m.id,
    userId: auth.userId,
    principal: principalOf(auth),
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
