/**
 * The DBCore middleware: every readwrite transaction that touches a synced table also
 * covers the bridge's stores, and every mutation of a synced table writes its cells to the
 * outbox and its field HLCs to the metadata store *through the same transaction*. So the
 * app's write and its outbox entry commit or abort together (the approach of dexie-cloud's
 * mutation tracking: extend `transaction(stores)`, wrap `table(name).mutate`).
 */
import { type HlcClock, PersistenceError, SchemaError, toOmniSyncError } from '@omnisync/core';
import { Dexie } from 'dexie';
import type { DBCore, DBCoreMutateRequest, DBCoreMutateResponse, DBCoreTable, Middleware } from 'dexie';
import { type CapturedWrite, captureDelete, captureWrite, documentId, KEY_FIELD } from './capture.js';
import { type CaptureState, ensureClock } from './capture-state.js';
import {
  BRIDGE_STORES,
  META_STORE,
  type MetaRecord,
  OUTBOX_STORE,
  type OutboxCell,
  type OutboxEntry,
  STATE_STORE,
} from './stores.js';

/** The middleware's name in Dexie's stack. */
export const MIDDLEWARE_NAME = 'omnisync';

/** Refuse a schema the bridge cannot sync, naming the fix. */
function checkSchema(down: DBCore, tables: ReadonlySet<string>): void {
  const names = new Set(down.schema.tables.map((t) => t.name));
  for (const store of BRIDGE_STORES)
    if (!names.has(store))
      throw new SchemaError(
        `The database has no ${store} store: spread omnisyncStores into every db.version(n).stores({...}).`,
      );
  for (const table of tables) {
    const t = down.schema.tables.find((x) => x.name === table);
    if (!t)
      throw new SchemaError(
        `Synced table ${table} is not in the database schema; declare it in db.version().stores().`,
      );
    const pk = t.primaryKey;
    if (pk.keyPath !== KEY_FIELD || pk.autoIncrement)
      throw new SchemaError(
        `Synced table ${table} must have the primary key "${KEY_FIELD}" (a string, not auto-incremented), e.g. stores({ ${table}: 'id, …' }).`,
        { details: { collection: table } },
      );
  }
}

/**
 * Create the capture middleware for `db.use(...)`.
 * @example
 * db.use(createCaptureMiddleware(state));
 */
export function createCaptureMiddleware(state: CaptureState): Middleware<DBCore> {
  return {
    stack: 'dbcore',
    name: MIDDLEWARE_NAME,
    create(down: DBCore): Partial<DBCore> {
      checkSchema(down, state.tables);
      return {
        ...down,
        transaction(stores, mode, options) {
          if (mode === 'readwrite' && stores.some((s) => state.tables.has(s))) {
            const extra = BRIDGE_STORES.filter((s) => !stores.includes(s));
            if (extra.length > 0) stores = [...stores, ...extra];
          }
          return down.transaction(stores, mode, options);
        },
        table(name) {
          const table = down.table(name);
          if (!state.tables.has(name)) return table;
          return {
            ...table,
            mutate: (req) =>
              state.remote.has(req.trans) ? table.mutate(req) : capture(down, table, req, state),
          };
        },
      };
    },
  };
}

function keysOf(table: DBCoreTable, req: DBCoreMutateRequest): PromiseLike<unknown[]> {
  switch (req.type) {
    case 'deleteRange':
      return table
        .query({
          trans: req.trans,
          values: false,
          query: { index: table.schema.primaryKey, range: req.range },
        })
        .then((res) => res.result);
    case 'delete':
      return Dexie.Promise.resolve(req.keys);
    default: {
      const extract = table.schema.primaryKey.extractKey!;
      return Dexie.Promise.resolve(req.values.map((v, i) => req.keys?.[i] ?? extract(v)));
    }
  }
}

/**
 * Run `req` and capture what it wrote, all in `req.trans`. Written as a chain of Dexie
 * promises, not `async`/`await`: Dexie's zone (the current transaction, which the lower
 * middlewares read) only follows its own promises.
 */
function capture(
  down: DBCore,
  table: DBCoreTable,
  req: DBCoreMutateRequest,
  state: CaptureState,
): Promise<DBCoreMutateResponse> {
  const { trans } = req;
  const name = table.name;
  const metaTable = down.table(META_STORE);
  const writes = req.type === 'add' || req.type === 'put';
  let clock: HlcClock;
  let ids: string[];
  let captured: (CapturedWrite | undefined)[];
  return ensureClock(down, trans, state)
    .then((c) => {
      clock = c;
      return keysOf(table, req);
    })
    .then((keys) => {
      ids = keys.map((k) => documentId(name, k));
      return Dexie.Promise.all([
        writes ? table.getMany({ trans, keys: ids }) : Dexie.Promise.resolve([]),
        metaTable.getMany({ trans, keys: ids.map((id) => [name, id]) }),
      ]);
    })
    .then(([prevRows, prevMetas]) => {
      // Later operations on the same document in one request see the earlier ones.
      const rows = new Map<string, unknown>();
      const metas = new Map<string, MetaRecord | undefined>();
      captured = ids.map((id, i) => {
        const meta = metas.has(id) ? metas.get(id) : (prevMetas[i] as MetaRecord | undefined);
        const hlc = clock.now();
        let out: CapturedWrite | undefined;
        if (req.type === 'add' || req.type === 'put') {
          const prev = rows.has(id) ? rows.get(id) : prevRows[i];
          out = captureWrite(name, id, prev, req.values[i], meta, hlc);
          rows.set(id, req.values[i]);
        } else {
          out = captureDelete(name, id, meta, hlc);
          rows.set(id, undefined);
        }
        if (out) metas.set(id, out.meta);
        return out;
      });
      return table.mutate(req);
    })
    .then((res) => {
      const cells: OutboxCell[] = [];
      const metaWrites = new Map<string, MetaRecord>();
      captured.forEach((c, i) => {
        if (!c || res.failures[i] !== undefined) return;
        cells.push(...c.cells);
        metaWrites.set(c.meta.id, c.meta);
      });
      if (cells.length === 0) return res;
      const entry: OutboxEntry = { mutationId: cells[0]!.hlc, clientId: clock.nodeId, cells };
      return Dexie.Promise.all([
        down.table(OUTBOX_STORE).mutate({ type: 'add', trans, values: [entry] }),
        metaTable.mutate({ type: 'put', trans, values: [...metaWrites.values()] }),
        down.table(STATE_STORE).mutate({
          type: 'put',
          trans,
          values: [{ key: 'clock', nodeId: clock.nodeId, last: clock.last }],
        }),
      ])
        .then((results) => {
          const failed = results.find((r) => r.numFailures > 0);
          if (failed)
            throw new PersistenceError(
              `Could not record the write in the OmniSync outbox (${String(Object.values(failed.failures)[0])}); the transaction was aborted.`,
            );
          state.onCaptured();
          return res;
        })
        .catch((err: unknown) => {
          // An app write without its outbox entry must never commit.
          trans.abort();
          throw toOmniSyncError(err, 'persistence_failed');
        });
    }) as Promise<DBCoreMutateResponse>;
}
