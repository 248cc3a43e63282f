/**
 * Write-side ACL oracle (issue 13): random rules (owner = sub, team in an array claim, a role
 * of the principal, a field constant, a constant, under and/or; `{ old, new }` updates; a
 * write mask) × random principals (with and without `sub`) × random inserts, updates and
 * deletes, pushed over HTTP to a real server (its own SQLite files) with real tokens. Every
 * mutation's applied/refused equals a naive evaluator written here (not core's), and the
 * server's documents at the end equal the model that applied only the allowed writes: no
 * refused write applied. Runs: OMNISYNC_RULES_RUNS (default 25), seed: OMNISYNC_SEED.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CollectionRules,
  defineRules,
  op,
  type Predicate,
  type Principal,
  principal,
  type RuleCheck,
} from '@omnisync/core';
import { signToken } from './helpers/jwt.js';
import { CellWriter, HttpClient, mutation } from './helpers/protocol-client.js';
import { startServer } from './helpers/servers.js';

const RUNS = Number(process.env.OMNISYNC_RULES_RUNS ?? 25);
const SEED = process.env.OMNISYNC_SEED === undefined ? undefined : Number(process.env.OMNISYNC_SEED);
const SECRET = 'rules-oracle-secret-0123456789abcdef-xyz';
const APP = 'oracle';
const C = 'docs';
const IDS = ['a', 'b', 'c'];
const SUBS = ['u1', 'u2'];
const TEAMS = ['red', 'blue'];
const ROLES = ['admin', 'editor'];

// ── rule shapes ────────────────────────────────────────────────────────────
type Tree =
  | { k: 'owner' }
  | { k: 'team' }
  | { k: 'role'; role: string }
  | { k: 'status'; value: string }
  | { k: 'const'; value: boolean }
  | { k: 'and' | 'or'; args: [Tree, Tree] };

const arbTree: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant({ k: 'owner' as const }),
    fc.constant({ k: 'team' as const }),
    fc.record({ k: fc.constant('role' as const), role: fc.constantFrom(...ROLES) }),
    fc.record({ k: fc.constant('status' as const), value: fc.constantFrom('open', 'closed') }),
    fc.record({ k: fc.constant('const' as const), value: fc.constantFrom(true, true, false) }),
    fc.record({
      k: fc.constantFrom('and' as const, 'or' as const),
      args: fc.tuple(tie('tree'), tie('tree')),
    }),
  ),
})).tree;

interface RuleSpec {
  insert: Tree | undefined;
  update: Tree | { old: Tree | undefined; new: Tree | undefined } | undefined;
  delete: Tree | undefined;
  mask: boolean;
}
const optTree = fc.option(arbTree, { nil: undefined, freq: 5 });
const arbSpec: fc.Arbitrary<RuleSpec> = fc.record({
  insert: optTree,
  update: fc.oneof(optTree, fc.record({ old: optTree, new: optTree })),
  delete: optTree,
  mask: fc.boolean(),
});

const hasRole = (t: Tree): boolean =>
  t.k === 'role' || ((t.k === 'and' || t.k === 'or') && t.args.some(hasRole));

/** The tree as the app would write it: a predicate with principal() placeholders, partially evaluated. */
function toCheck(t: Tree, p?: Principal): boolean | Predicate {
  switch (t.k) {
    case 'owner':
      return op.eq('owner', principal('sub'));
    case 'team':
      return op.eq('team', principal('teams'));
    case 'status':
      return op.eq('status', t.value);
    case 'const':
      return t.value;
    case 'role':
      return Array.isArray(p?.roles) && p.roles.includes(t.role);
    default: {
      const [a, b] = t.args.map((x) => toCheck(x, p)) as [boolean | Predicate, boolean | Predicate];
      if (t.k === 'and') {
        if (a === false || b === false) return false;
        if (a === true) return b;
        if (b === true) return a;
        return op.and(a, b);
      }
      if (a === true || b === true) return true;
      if (a === false) return b;
      if (b === false) return a;
      return op.or(a, b);
    }
  }
}
/** A static check when the tree needs no principal to shape it, else a function of the principal. */
const ruleCheck = (t: Tree): RuleCheck => (hasRole(t) ? (p: Principal) => toCheck(t, p) : toCheck(t));

function toRules(s: RuleSpec) {
  const rules: CollectionRules = {
    // The oracle's own principal reads everything (to compare the final state).
    read: (p) => p.oracle === true,
    ...(s.insert ? { insert: ruleCheck(s.insert) } : {}),
    ...(s.delete ? { delete: ruleCheck(s.delete) } : {}),
    ...(s.update === undefined
      ? {}
      : 'k' in s.update
        ? { update: ruleCheck(s.update) }
        : s.update.old === undefined && s.update.new === undefined
          ? {}
          : {
              update: {
                ...(s.update.old ? { old: ruleCheck(s.update.old) } : {}),
                ...(s.update.new ? { new: ruleCheck(s.update.new) } : {}),
              },
            }),
    ...(s.mask ? { writeMask: ['secret'] } : {}),
  };
  return defineRules({ [C]: rules });
}

// ── the naive evaluator ────────────────────────────────────────────────────
type Doc = Record<string, unknown>;
function naive(t: Tree | undefined, d: Doc, p: Principal): boolean {
  if (t === undefined) return false;
  switch (t.k) {
    case 'owner':
      return typeof p.sub === 'string' && d.owner === p.sub;
    case 'team':
      return Array.isArray(p.teams) && typeof d.team === 'string' && p.teams.includes(d.team);
    case 'role':
      return Array.isArray(p.roles) && p.roles.includes(t.role);
    case 'status':
      return d.status === t.value;
    case 'const':
      return t.value;
    case 'and':
      return naive(t.args[0], d, p) && naive(t.args[1], d, p);
    case 'or':
      return naive(t.args[0], d, p) || naive(t.args[1], d, p);
  }
}

// ── principals and writes ──────────────────────────────────────────────────
const arbPrincipal = fc.record(
  {
    sub: fc.constantFrom(...SUBS),
    teams: fc.subarray(TEAMS),
    roles: fc.subarray(ROLES),
  },
  { requiredKeys: [] },
);
const arbFields = fc.record(
  {
    owner: fc.constantFrom(...SUBS),
    team: fc.constantFrom(...TEAMS),
    status: fc.constantFrom('open', 'closed'),
    secret: fc.constant('s'),
    title: fc.string({ maxLength: 3 }),
  },
  { requiredKeys: [] },
);
type Op = { who: number; id: string } & ({ kind: 'write'; fields: Doc } | { kind: 'delete' });
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      who: fc.nat(2),
      id: fc.constantFrom(...IDS),
      kind: fc.constant('write' as const),
      fields: arbFields.filter((f) => Object.keys(f).length > 0),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      who: fc.nat(2),
      id: fc.constantFrom(...IDS),
      kind: fc.constant('delete' as const),
    }),
  },
);

/** The model: visible documents, and ids deleted (delete wins over every later write). */
interface Model {
  docs: Map<string, Doc>;
  deleted: Set<string>;
}

/** Would the rules allow `o` by `p` on the model? (and apply it to the model when they do) */
function decide(s: RuleSpec, m: Model, o: Op, p: Principal): boolean {
  const old = m.docs.get(o.id);
  if (o.kind === 'delete') {
    const ok = naive(s.delete, old ?? { id: o.id }, p);
    if (ok) {
      m.docs.delete(o.id);
      m.deleted.add(o.id);
    }
    return ok;
  }
  if (s.mask && 'secret' in o.fields) return false;
  if (old === undefined) {
    const ok = naive(s.insert, { id: o.id, ...o.fields }, p);
    if (ok && !m.deleted.has(o.id)) m.docs.set(o.id, { id: o.id, ...o.fields });
    return ok;
  }
  const next = { ...old, ...o.fields };
  const u = s.update;
  const [oldCheck, newCheck] = u === undefined || 'k' in u ? [u, u] : [u.old, u.new];
  const ok = naive(oldCheck, old, p) && naive(newCheck, next, p);
  if (ok) m.docs.set(o.id, next);
  return ok;
}

describe('write-side ACL oracle', () => {
  it('the server accepts exactly the writes the naive evaluator allows, and applies no refused one', async () => {
    let run = 0;
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        arbSpec,
        fc.array(arbPrincipal, { minLength: 3, maxLength: 3 }),
        fc.array(arbOp, { minLength: 1, maxLength: 10 }),
        async (spec, principals, ops) => {
          const t = await startServer({ auth: { secret: SECRET }, rules: toRules(spec) });
          try {
            const app = `${APP}${run++}`;
            const clients = await Promise.all(
              principals.map(async (p) => new HttpClient(t.url, app, await signToken(SECRET, { ...p, app }))),
            );
            const w = new CellWriter('oracle_w');
            const model: Model = { docs: new Map(), deleted: new Set() };
            // Consecutive operations of one principal go in one push (its mutations in order).
            let i = 0;
            while (i < ops.length) {
              const who = ops[i]!.who;
              const batch: Op[] = [];
              while (i < ops.length && ops[i]!.who === who) batch.push(ops[i++]!);
              const expected = batch.map((o) => decide(spec, model, o, principals[who]!));
              const res = await clients[who]!.push(`c${who}`, [
                ...batch.map((o) =>
                  mutation(o.kind === 'delete' ? w.remove(C, o.id) : w.doc(C, o.id, o.fields)),
                ),
              ]);
              const got = res.results.map((r) => r.status === 'applied');
              expect(got, JSON.stringify({ spec, principals, batch })).toEqual(expected);
              for (const [k, r] of res.results.entries()) {
                if (r.status === 'applied') accepted++;
                else {
                  refused++;
                  expect(r.error.code).toBe('permission_denied');
                  expect(r.error.details).toMatchObject({ collection: C, id: batch[k]!.id });
                }
              }
            }
            // The server's documents are the model's: nothing refused was applied.
            const oracle = new HttpClient(t.url, app, await signToken(SECRET, { app, oracle: true }));
            const server = new Map<string, Doc>();
            const gone = new Set<string>();
            for (const c of (await oracle.snapshot()).cells) {
              if (c.field === '_deleted') gone.add(c.id);
              else server.set(c.id, { ...server.get(c.id), [c.field]: c.value });
            }
            for (const id of gone) server.delete(id);
            expect(Object.fromEntries(server)).toEqual(Object.fromEntries(model.docs));
          } finally {
            await t.close();
          }
        },
      ),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
    console.log(`rules oracle: ${RUNS} runs, ${accepted} writes accepted, ${refused} refused`);
    // The generators reach both answers.
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  }, 120_000);
});
