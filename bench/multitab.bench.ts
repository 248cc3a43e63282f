/**
 * Multi-tab in real Chromium (the harness of packages/client/test/multitab): tabs of one
 * origin share one IndexedDB replica and one leader talks to a real OmniSync server.
 *   - write in tab A → visible in tab B: 200 inserts 10 ms apart, timed from the insert in A
 *     to B's collection change (wall clock, one browser), follower→leader and leader→follower;
 *   - leader failover: a write pending in a follower while the leader's push hangs; the leader
 *     tab is closed; time until the follower is leader, and until it has flushed the write.
 * No peer ships a multi-tab leader for this stack, so figures stand alone.
 */
import type { Page } from 'playwright-core';
import { call, openTab, startMultiTabHarness } from '../packages/client/test/multitab/harness.ts';
import { type BenchSection, fmtMs, median, percentile } from './lib.ts';

const WRITES = 200;
const FAILOVER_RUNS = 7;

async function visibility(from: Page, to: Page, prefix: string): Promise<number[]> {
  await call(to, (a) => a.watch());
  const sent = await call(
    from,
    new Function('a', `return a.burst(${JSON.stringify(prefix)}, ${WRITES}, 10)`) as never as (
      a: unknown,
    ) => Promise<[string, number][]>,
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const seen = await call(to, (a) => a.seen());
    if (sent.every(([id]) => seen[id] !== undefined)) return sent.map(([id, t]) => seen[id]! - t);
    if (Date.now() > deadline) throw new Error('not every write became visible in the other tab');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export default async function multitabBench(): Promise<BenchSection> {
  const h = await startMultiTabHarness();
  try {
    const rows: (string | number)[][] = [];
    {
      const context = await h.browser.newContext();
      const leader = await openTab(h, context, 'bench-visible');
      const follower = await openTab(h, context, 'bench-visible');
      const up = await visibility(follower, leader, 'f');
      const down = await visibility(leader, follower, 'l');
      rows.push([
        'follower → leader: write visible',
        WRITES,
        fmtMs(percentile(up, 50)),
        fmtMs(percentile(up, 95)),
      ]);
      rows.push([
        'leader → follower: write visible',
        WRITES,
        fmtMs(percentile(down, 50)),
        fmtMs(percentile(down, 95)),
      ]);
      await context.close();
    }
    const lead: number[] = [];
    const flushed: number[] = [];
    for (let run = 0; run < FAILOVER_RUNS; run++) {
      const app = `bench-failover-${run}`;
      const context = await h.browser.newContext();
      const leader = await openTab(h, context, app);
      const follower = await openTab(h, context, app);
      await call(follower, (a) => a.watchTakeover());
      h.hangPushes = true;
      await call(follower, (a) => a.write('pending', 'written before the leader closed'));
      const deadline = Date.now() + 10_000;
      while (!h.pushes.some((p) => p.app === app) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      const t0 = Date.now();
      h.hangPushes = false;
      await leader.close({ runBeforeUnload: false });
      for (;;) {
        const t = await call(follower, (a) => a.takeover());
        if (t.flushed !== undefined) {
          lead.push(t.leader! - t0);
          flushed.push(t.flushed - t0);
          break;
        }
        if (Date.now() - t0 > 30_000) throw new Error('no takeover within 30 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      await context.close();
    }
    rows.push([
      'failover: leader closed → new leader',
      FAILOVER_RUNS,
      fmtMs(median(lead)),
      fmtMs(percentile(lead, 95)),
    ]);
    rows.push([
      'failover: leader closed → pending write flushed',
      FAILOVER_RUNS,
      fmtMs(median(flushed)),
      fmtMs(percentile(flushed, 95)),
    ]);
    return {
      title: 'Multiple tabs (Chromium): cross-tab visibility and leader failover',
      notes: `Headless Debian Chromium (playwright-core), one browser context = one origin, pages = tabs sharing one IndexedDB replica (durability strict); a real OmniSync server in-process behind a same-origin proxy, HTTP polling 100 ms. Visibility: ${WRITES} inserts 10 ms apart in tab A, timed to the collection change in tab B (a follower's write crosses after its IndexedDB commit, by BroadcastChannel). Failover: median of ${FAILOVER_RUNS} runs, from page.close() of the leader (its last push left unanswered) to the follower holding the Web Lock, and to its pending write acknowledged by the server. No peer: figures stand alone`,
      columns: ['measure', 'samples', 'p50 / median (ms)', 'p95 (ms)'],
      rows,
    };
  } finally {
    await h.close();
  }
}
