/**
 * The provider conformance suite (`@omnisync/client/testing`): every seed 004 SyncProvider
 * must pass it. It drives real clients (each its own persistence and
 * {@link createSyncProviderSource}) against the backend behind the provider:
 *
 *     providerConformanceSuite('my backend', async () => ({ provider: () => new MyProvider(url) }), { describe, it });
 *
 * Each case gets a fresh fixture and its own scope. The backend must accept any table name
 * and refuse, non-retryably, any op that writes `mustReject: true`.
 */
import { NonRetriableError, q } from '@omnisync/core';
import { createMemoryPersistenceStore } from '../../persistence/memory.js';
import { liveQuery } from '../../state/live.js';
import {
  check,
  codeOf,
  type Device,
  freshScope,
  fullLog,
  type Item,
  openDevice,
  type ProviderFixture,
  type ProviderFixtureFactory,
  ready,
  waitFor,
} from './provider-suite-support.js';
import type { PullResponse, PushResult, SyncScope } from './sync-provider-types.js';

export { CONFORMANCE_REJECT_FIELD } from './provider-suite-support.js';
export type { ProviderFixture, ProviderFixtureFactory } from './provider-suite-support.js';

/** One named check of the provider contract. */
export interface ProviderCase {
  readonly name: string;
  run(fixture: ProviderFixture, scope: SyncScope): Promise<void>;
}

/** Options of {@link providerConformanceSuite}. */
export interface ProviderSuiteOptions {
  /** The framework's `describe` (default: a global one). */
  describe?: (name: string, fn: () => void) => void;
  /** The framework's `it` (default: a global one). */
  it?: (name: string, fn: () => Promise<void>) => void;
}

const write = async (tx: { promise: Promise<unknown> }) => {
  await tx.promise;
};

/** Every case of the suite, in order. */
export const providerCases: readonly ProviderCase[] = [
  {
    name: 'catch-up by cursor: a new device gets the log; restarted, it pulls from its stored cursor only',
    async run(fx, scope) {
      const a = await openDevice(fx, scope);
      await ready(a);
      for (const id of ['a1', 'a2', 'a3']) await write(a.items.insert({ id, title: id }));
      await a.close();
      const store = createMemoryPersistenceStore();
      let b = await openDevice(fx, scope, { store });
      await ready(b);
      check(b.items.count() === 3, `device B should hold 3 items after catch-up, holds ${b.items.count()}`);
      check(b.provider.pulls[0]?.req.cursor === 0, 'a first start pulls from cursor 0');
      const stored = b.source.cursor;
      check(stored > 0, 'the cursor moved past the pulled changes');
      await b.close();
      const c = await openDevice(fx, scope);
      await ready(c);
      await write(c.items.insert({ id: 'c1', title: 'later' }));
      await c.close();
      b = await openDevice(fx, scope, { store });
      await ready(b);
      const first = b.provider.pulls[0]!;
      check(
        first.req.cursor === stored,
        `a restart pulls from the stored cursor ${stored}, not ${first.req.cursor}`,
      );
      const got = (first.res as PullResponse).changes.map((ch) => ch.pk);
      check(
        got.length === 1 && got[0] === 'c1',
        `after the stored cursor only c1 is new, got ${got.join(',')}`,
      );
      check(b.items.count() === 4 && b.items.get('a2')?.title === 'a2', 'restarted, B holds all 4 items');
      await b.close();
    },
  },
  {
    name: 'paging: pulls pages of at most `limit` until hasMore is false',
    async run(fx, scope) {
      const a = await openDevice(fx, scope);
      await ready(a);
      for (let i = 0; i < 7; i++) await write(a.items.insert({ id: `p${i}`, n: i }));
      await a.close();
      const b = await openDevice(fx, scope, { pageSize: 2 });
      await ready(b);
      const pages = b.provider.pulls.map((p) => ({ req: p.req, res: p.res as PullResponse }));
      check(pages.length >= 4, `7 changes in pages of 2 need at least 4 pulls, saw ${pages.length}`);
      for (const [i, p] of pages.entries()) {
        check(p.req.limit === 2, 'every pull asks for the page size');
        check(
          p.res.changes.length <= 2,
          `page ${i} has ${p.res.changes.length} changes, over the limit of 2`,
        );
        if (i > 0 && pages[i - 1]!.res.hasMore)
          check(
            p.req.cursor === pages[i - 1]!.res.nextCursor,
            `page ${i} resumes at the previous nextCursor`,
          );
      }
      const catchUp = pages.slice(0, pages.findIndex((p) => !p.res.hasMore) + 1);
      check(
        catchUp.length >= 4 && catchUp.slice(0, -1).every((p) => p.res.hasMore),
        'hasMore until the last page',
      );
      check(
        b.items.count() === 7 && b.items.get('p6')?.n === 6,
        `B holds the 7 items, holds ${b.items.count()}`,
      );
      await b.close();
    },
  },
  {
    name: 'live: another device’s write reaches a live query through subscribe',
    async run(fx, scope) {
      const a = await openDevice(fx, scope);
      const b = await openDevice(fx, scope);
      await Promise.all([ready(a), ready(b)]);
      const lq = liveQuery(b.client, q('items').where({ title: 'live' }));
      const off = lq.subscribe(() => {});
      await write(a.items.insert({ id: 'l1', title: 'live' }));
      await waitFor(() => (lq.value as Item[]).some((d) => d.id === 'l1'), 'B’s live query shows l1');
      check(
        b.provider.live.some((c) => c.pk === 'l1'),
        'the change came through subscribe (onChanges)',
      );
      off();
      await Promise.all([a.close(), b.close()]);
    },
  },
  {
    name: 'push is idempotent by op id: the same batch twice, and a lost answer retried, apply once',
    async run(fx, scope) {
      const p = await fx.provider();
      const op = {
        id: 'op-idem-1',
        tableName: 'items',
        pk: 'i1',
        op: 'put' as const,
        payload: { id: 'i1', title: 'once' },
        stamp: { hlc: '', deviceId: 'dev-x', opId: 'op-idem-1' },
        createdAt: 0,
      };
      const d = await openDevice(fx, scope);
      await ready(d);
      const stamped = { ...op, stamp: { ...op.stamp, hlc: d.client.hlc.now() } };
      for (let i = 0; i < 2; i++) {
        const r = await p.push({ scope, deviceId: 'dev-x', ops: [stamped] });
        check(r.results.length === 1 && r.results[0]!.success, `push #${i + 1} of the same op succeeds`);
      }
      // The answer of the first push is lost after the backend committed it: the kernel retries.
      d.provider.pushHook = async (n, real) => {
        const r = await real();
        if (n === 1) throw new Error('connection reset after the backend committed');
        return r;
      };
      const tx = d.items.insert({ id: 'i2', title: 'retried' });
      await write(tx);
      check(
        d.provider.pushes.length === 2,
        `the lost answer was retried once, saw ${d.provider.pushes.length} pushes`,
      );
      const ids = d.provider.pushes.map((b) => b.ops.map((o) => o.id).join());
      check(ids[0] === ids[1], 'a retry re-sends the same op ids');
      const log = await fullLog(p, scope);
      const count = (opId: string) => log.filter((c) => c.stamp.opId === opId).length;
      check(count('op-idem-1') === 1, `op-idem-1 is in the log ${count('op-idem-1')} times, not once`);
      const retried = d.provider.pushes[0]!.ops[0]!.id;
      check(count(retried) === 1, `the retried op is in the log ${count(retried)} times, not once`);
      await d.close();
    },
  },
  {
    name: 'a restart re-sends the outbox with the same op ids, applied once',
    async run(fx, scope) {
      const store = createMemoryPersistenceStore();
      let d = await openDevice(fx, scope, {
        store,
        setup: (p) => {
          p.pushHook = async (_n, real) => {
            await real();
            throw new Error('offline before the answer arrived');
          };
        },
      });
      await ready(d);
      d.items.insert({ id: 'r1', title: 'before restart' });
      await waitFor(() => d.provider.pushes.length >= 2, 'the push was tried twice');
      const sent = d.provider.pushes[0]!.ops.map((o) => o.id);
      await d.close();
      d = await openDevice(fx, scope, { store });
      await waitFor(() => d.provider.pushes.length >= 1, 'the restarted device re-sends its outbox');
      await waitFor(
        () => d.client.transactions.peek().every((t) => t.state === 'completed'),
        'the outbox drains',
      );
      check(
        d.provider.pushes[0]!.ops.map((o) => o.id).join() === sent.join(),
        're-sent with the same op ids',
      );
      const log = await fullLog(await fx.provider(), scope);
      check(log.filter((c) => c.stamp.opId === sent[0]).length === 1, 'the op is in the log once');
      check(d.items.get('r1')?.title === 'before restart', 'the write survived the restart');
      await d.close();
    },
  },
  {
    name: 'a rejected op fails its transaction with NonRetriableError and rolls it back; nothing of its batch applies',
    async run(fx, scope) {
      const d = await openDevice(fx, scope);
      await ready(d);
      const tx = d.client.transaction(() => {
        d.items.insert({ id: 'ok', title: 'fine' });
        d.items.insert({ id: 'bad', title: 'refused', mustReject: true });
      });
      check(d.items.get('ok') !== undefined, 'optimistic before the push');
      const err = await tx.promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      check(
        err instanceof NonRetriableError && codeOf(err) === 'non_retriable',
        `NonRetriableError, got ${String(err)}`,
      );
      check(d.items.get('ok') === undefined && d.items.get('bad') === undefined, 'both writes rolled back');
      check(d.provider.pushes.length === 1, 'a rejected op is not retried');
      const log = await fullLog(await fx.provider(), scope);
      check(
        !log.some((c) => c.pk === 'ok' || c.pk === 'bad'),
        'nothing of the rejected batch reached the log',
      );
      await d.close();
    },
  },
  {
    name: 'delete wins: a concurrent later update of a deleted document does not bring it back',
    async run(fx, scope) {
      const a = await openDevice(fx, scope);
      const b = await openDevice(fx, scope);
      await Promise.all([ready(a), ready(b)]);
      await write(a.items.insert({ id: 'd1', title: 'doomed' }));
      await waitFor(() => b.items.get('d1') !== undefined, 'B has d1');
      // B stops hearing from the backend (offline for reads) while A deletes.
      let openGate!: () => void;
      const gate = new Promise<void>((r) => (openGate = r));
      b.provider.pullHook = async (_n, real) => {
        await gate;
        return real();
      };
      const releaseLive = b.provider.holdLive();
      const release = () => {
        openGate();
        releaseLive();
      };
      const del = a.items.delete('d1');
      await write(del);
      await new Promise((r) => setTimeout(r, 5));
      const upd = b.items.update('d1', (x) => {
        x.title = 'updated after the delete';
      });
      check(
        upd.mutations[0]!.hlc > del.mutations[0]!.hlc,
        'precondition: B’s update is stamped after A’s delete',
      );
      release();
      await write(upd);
      await waitFor(
        () => a.items.get('d1') === undefined && b.items.get('d1') === undefined,
        'd1 is gone on A and B',
      );
      const c = await openDevice(fx, scope);
      await ready(c);
      check(c.items.get('d1') === undefined, 'a fresh device does not see d1');
      const log = (await fullLog(await fx.provider(), scope)).filter((ch) => ch.pk === 'd1');
      const deletedAt = log.findIndex((ch) => ch.op === 'delete');
      check(deletedAt >= 0, 'the log has the delete');
      check(!log.slice(deletedAt).some((ch) => ch.op === 'put'), 'the log has no put of d1 after its delete');
      await Promise.all([a.close(), b.close(), c.close()]);
    },
  },
  {
    name: 'cursor reported: updateCursor gets the device id and the stored cursor after a catch-up',
    async run(fx, scope) {
      const a = await openDevice(fx, scope);
      await ready(a);
      await write(a.items.insert({ id: 'k1', title: 'x' }));
      await a.close();
      const b = await openDevice(fx, scope);
      await ready(b);
      await waitFor(() => b.provider.cursors.length > 0, 'B reported its cursor');
      const last = b.provider.cursors[b.provider.cursors.length - 1]!;
      check(last.scope.workspaceId === scope.workspaceId, 'reported for the synced scope');
      check(last.deviceId === b.client.hlc.nodeId, 'reported with this device’s id');
      check(
        last.version === b.source.cursor && last.version > 0,
        `reported ${last.version}, stored ${b.source.cursor}`,
      );
      if (fx.cursorOf) {
        const held = await fx.cursorOf(scope, last.deviceId);
        check(
          held === last.version,
          `the backend holds cursor ${String(held)} for the device, not ${last.version}`,
        );
      }
      await b.close();
    },
  },
  {
    name: 'bad input: a pull answering garbage applies nothing, keeps the cursor, and is retried',
    async run(fx, scope) {
      const a = await openDevice(fx, scope);
      await ready(a);
      for (const id of ['g1', 'g2', 'g3']) await write(a.items.insert({ id, title: id }));
      await a.close();
      const seen = new Map<number, { count: number; cursor: number }>();
      const holder: { device?: Device } = {};
      const b = await openDevice(fx, scope, {
        setup: (p) => {
          p.pullHook = async (n, real) => {
            const d = holder.device;
            if (d) seen.set(n, { count: d.items.count(), cursor: d.source.cursor });
            const res = (await real()) as PullResponse;
            if (n === 1)
              return {
                ...res,
                changes: res.changes.map((c, i) =>
                  i === 1 ? { ...c, stamp: { ...c.stamp, hlc: 'not-a-clock' } } : c,
                ),
              };
            if (n === 2) return { changes: 'nope' };
            if (n === 3) return { ...res, changes: [res.changes[1], res.changes[0]] }; // out of order
            return res;
          };
        },
      });
      holder.device = b;
      await ready(b);
      const codes = b.errors.map(codeOf);
      check(
        codes.filter((c) => c === 'protocol_invalid').length >= 3,
        `3 typed protocol_invalid errors, got ${codes.join()}`,
      );
      check(
        [2, 3, 4].every((n) => seen.get(n)?.count === 0 && seen.get(n)?.cursor === 0),
        'after a garbage page: nothing applied, cursor kept',
      );
      check(b.items.count() === 3, 'once the provider answers properly, everything arrives');
      await b.close();
    },
  },
  {
    name: 'bad input: a push that throws or answers garbage is retried with the outbox intact, then applied once',
    async run(fx, scope) {
      const d = await openDevice(fx, scope);
      await ready(d);
      const during: boolean[] = [];
      d.provider.pushHook = async (n, real, batch) => {
        during.push(d.items.get('b1')?.title === 'kept' && !tx.finished);
        if (n === 1) throw new Error('socket hang up');
        if (n === 2) return { results: 'nope' };
        if (n === 3) return { results: [] } satisfies PushResult;
        if (n === 4)
          return { results: batch.ops.map((o) => ({ opId: o.id, success: false, error: 'busy' })) };
        return real();
      };
      const tx = d.items.insert({ id: 'b1', title: 'kept' });
      await write(tx);
      const codes = d.errors.map(codeOf);
      check(
        codes.slice(0, 4).join() === 'provider_failed,protocol_invalid,protocol_invalid,provider_failed',
        `typed errors in order, got ${codes.join()}`,
      );
      check(
        during.length === 5 && during.every(Boolean),
        'between attempts the write stayed pending and visible',
      );
      const ids = new Set(d.provider.pushes.map((b) => b.ops.map((o) => o.id).join()));
      check(ids.size === 1, 'every attempt sent the same op ids');
      const log = await fullLog(await fx.provider(), scope);
      check(log.filter((c) => c.pk === 'b1').length === 1, 'applied once');
      await d.close();
    },
  },
  {
    name: 'bad input: a provider throwing in pull and subscribe is retried until the source is ready',
    async run(fx, scope) {
      const a = await openDevice(fx, scope);
      await ready(a);
      await write(a.items.insert({ id: 't1', title: 'x' }));
      await a.close();
      const b = await openDevice(fx, scope, {
        setup: (p) => {
          p.pullHook = async (n, real) => {
            if (n <= 2) throw new Error('backend down');
            return real();
          };
          p.subscribeHook = async (n, real) => {
            if (n === 1) throw 'not even an Error';
            return real();
          };
        },
      });
      await ready(b);
      check(
        b.errors.filter((e) => codeOf(e) === 'provider_failed').length >= 3,
        'typed provider_failed errors',
      );
      check(b.items.get('t1')?.title === 'x', 'the data arrived once the provider recovered');
      await b.close();
    },
  },
];

/** Register every case with a test framework: one `describe(name)`, one `it` per case. */
export function providerConformanceSuite(
  name: string,
  makeFixture: ProviderFixtureFactory,
  options: ProviderSuiteOptions = {},
): void {
  const g = globalThis as { describe?: ProviderSuiteOptions['describe']; it?: ProviderSuiteOptions['it'] };
  const describe = options.describe ?? g.describe;
  const it = options.it ?? g.it;
  if (!describe || !it)
    throw new Error(
      'providerConformanceSuite needs a test framework: pass { describe, it } (e.g. from vitest).',
    );
  describe(name, () => {
    providerCases.forEach((c, i) =>
      it(c.name, async () => {
        const fixture = await makeFixture();
        try {
          await c.run(fixture, freshScope(i));
        } finally {
          await fixture.close?.();
        }
      }),
    );
  });
}
