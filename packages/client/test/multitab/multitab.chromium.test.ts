/**
 * Multi-tab in real Chromium (see harness.ts): one browser context is one origin, its pages
 * are tabs sharing one IndexedDB replica; one leader (Web Locks) talks to a real OmniSync
 * server through a same-origin proxy that counts pushes and can go offline.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, serverDocuments } from '../sync/helpers.js';
import { call, type MultiTabHarness, openTab, startMultiTabHarness } from './harness.js';

let h: MultiTabHarness;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  h = await startMultiTabHarness();
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await h?.close();
});

async function newContext(): Promise<BrowserContext> {
  const c = await h.browser.newContext();
  contexts.push(c);
  return c;
}

const ids = (page: Page) => call(page, (a) => a.docs().map((d) => d.id));
const sorted = (xs: string[]) => [...xs].sort();
const pushedIds = (app: string) => h.pushes.filter((p) => p.app === app).flatMap((p) => p.ids);

async function roles(tabs: readonly Page[]): Promise<string[]> {
  return Promise.all(tabs.map((t) => call(t, (a) => a.role())));
}

describe('multi-tab in real Chromium', () => {
  it('three tabs, all offline, each writing: every tab shows every write; back online, tabs and server converge', async () => {
    const app = 'mt-offline';
    const context = await newContext();
    h.offline = true;
    const tabs = [];
    for (let i = 0; i < 3; i++) tabs.push(await openTab(h, context, app));
    expect(sorted(await roles(tabs))).toEqual(['follower', 'follower', 'leader']);
    const expected: string[] = [];
    for (let i = 0; i < tabs.length; i++)
      for (let k = 0; k < 4; k++) {
        const id = `t${i}-${k}`;
        expected.push(id);
        await call(
          tabs[i]!,
          new Function('a', `return a.write(${JSON.stringify(id)}, 'from tab ${i}')`) as never,
        );
      }
    // The overlay is shared while offline: each tab shows the other tabs' pending writes.
    for (const t of tabs)
      await eventually(
        async () => (await ids(t)).length === expected.length,
        'every write in every tab, offline',
      );
    for (const t of tabs) expect(await ids(t)).toEqual(sorted(expected));
    expect(await serverDocuments(h.serverUrl, app, 'todos')).toEqual([]);

    h.offline = false;
    await eventually(
      async () => (await serverDocuments(h.serverUrl, app, 'todos')).length === expected.length,
      'the server to have every write',
      30_000,
    );
    for (const t of tabs)
      await eventually(async () => (await call(t, (a) => a.pending())) === 0, 'no pending');
    const server = await serverDocuments(h.serverUrl, app, 'todos');
    expect(server.map((d) => d.id)).toEqual(sorted(expected));
    for (const t of tabs)
      expect(await call(t, (a) => a.docs())).toEqual(server.map((d) => ({ id: d.id, title: d.title })));
    // Only the leader pushed, once per write, under the one shared replica id.
    const pushed = pushedIds(app);
    expect(sorted(pushed)).toEqual(sorted([...new Set(pushed)]));
    expect(new Set(pushed).size).toBe(expected.length);
    expect(new Set(h.pushes.filter((p) => p.app === app).map((p) => p.clientId)).size).toBe(1);
  }, 120_000);

  it('the leader tab closed mid-flush with writes pending in two tabs: another tab takes over, every write reaches the server once', async () => {
    const app = 'mt-failover';
    const context = await newContext();
    const leader = await openTab(h, context, app);
    const b = await openTab(h, context, app);
    const c = await openTab(h, context, app);
    expect(await roles([leader, b, c])).toEqual(['leader', 'follower', 'follower']);
    h.hangPushes = true; // the server gets the pushes, the leader never hears back
    const txIds: string[] = [];
    for (let k = 0; k < 5; k++) {
      txIds.push(await call(b, new Function('a', `return a.write('b${k}', 'from b')`) as never));
      txIds.push(await call(c, new Function('a', `return a.write('c${k}', 'from c')`) as never));
    }
    await eventually(() => new Set(pushedIds(app)).size === 10, 'the leader to push all ten writes');
    expect(await call(b, (a) => a.pending())).toBe(10);
    // (While unanswered, the old leader's own source re-sends on its request timeout.)
    const oldLeader = await call(leader, (x) => x.tabId());
    // Pushes already on the wire stay unanswered; the next leader's are answered.
    h.hangPushes = false;
    await leader.close({ runBeforeUnload: false });
    await eventually(async () => (await roles([b, c])).includes('leader'), 'a new leader', 30_000);
    for (const t of [b, c])
      await eventually(
        async () => (await call(t, (a) => a.pending())) === 0,
        'every write acknowledged',
        30_000,
      );
    const server = await serverDocuments(h.serverUrl, app, 'todos');
    expect(server.map((d) => d.id)).toEqual(
      sorted(['b0', 'b1', 'b2', 'b3', 'b4', 'c0', 'c1', 'c2', 'c3', 'c4']),
    );
    for (const t of [b, c]) expect(await ids(t)).toEqual(server.map((d) => d.id));
    // Every push of this replica carries the same client id, so the new leader's re-send of
    // what the old leader had on the wire is the same idempotency key: applied once.
    const pushes = h.pushes.filter((p) => p.app === app);
    expect(new Set(pushes.map((p) => p.clientId)).size).toBe(1);
    expect(sorted([...new Set(pushedIds(app))])).toEqual(sorted(txIds));
    // Only the two leaders pushed, one after the other; the new one sent each write still
    // open once (both followers asked it for every write).
    const newLeader = await call((await roles([b, c]))[0] === 'leader' ? b : c, (x) => x.tabId());
    expect(new Set(pushes.map((p) => p.tab))).toEqual(new Set([oldLeader, newLeader]));
    const firstNew = pushes.findIndex((p) => p.tab === newLeader);
    expect(pushes.slice(firstNew).every((p) => p.tab === newLeader)).toBe(true);
    const byNew = pushes.filter((p) => p.tab === newLeader).flatMap((p) => p.ids);
    expect(byNew.length).toBeGreaterThan(0);
    expect(new Set(byNew).size).toBe(byNew.length);
    expect(byNew.every((id) => txIds.includes(id))).toBe(true);
  }, 120_000);

  it('a reload of every tab while offline keeps everything, pending writes included', async () => {
    const app = 'mt-reload';
    const context = await newContext();
    const a = await openTab(h, context, app);
    const b = await openTab(h, context, app);
    await call(a, (x) => x.write('synced', 'before going offline'));
    await eventually(
      async () => (await serverDocuments(h.serverUrl, app, 'todos')).length === 1,
      'the first write on the server',
    );
    h.offline = true;
    await call(a, (x) => x.write('pa', 'pending in a'));
    await call(b, (x) => x.write('pb', 'pending in b'));
    for (const t of [a, b])
      await eventually(async () => (await ids(t)).length === 3, 'all three in both tabs');
    await a.reload();
    await b.reload();
    for (const t of [a, b]) {
      await call(t, (x) => x.ready());
      await eventually(async () => (await ids(t)).length === 3, 'everything after the reload');
      expect(await ids(t)).toEqual(['pa', 'pb', 'synced']);
      expect(await call(t, (x) => x.pending())).toBe(2);
    }
    h.offline = false;
    await eventually(
      async () => (await serverDocuments(h.serverUrl, app, 'todos')).length === 3,
      'the pending writes on the server after reconnecting',
      30_000,
    );
    expect(new Set(pushedIds(app)).size).toBe(pushedIds(app).length);
  }, 120_000);

  it('without Web Locks each tab warns and runs single-tab', async () => {
    const app = 'mt-nolocks';
    const context = await newContext();
    await context.addInitScript(() => {
      delete (Navigator.prototype as { locks?: unknown }).locks;
    });
    const a = await openTab(h, context, app);
    expect(await a.evaluate(() => 'locks' in navigator)).toBe(false);
    expect(await call(a, (x) => x.role())).toBe('single');
    expect(await call(a, (x) => x.reason())).toMatch(/Web Locks/);
    expect((await call(a, (x) => x.warnings())).join('\n')).toMatch(/multiTab: Web Locks/);
    await call(a, (x) => x.write('solo', 'single-tab write'));
    await eventually(
      async () => (await serverDocuments(h.serverUrl, app, 'todos')).length === 1,
      'the single-tab write on the server',
    );
  }, 120_000);
});
