/**
 * The pure rules evaluator: binds `principal()` placeholders from the claims, compiles the
 * checks with the query engine's predicate compiler, and answers read/write decisions with
 * the rule and clause that decided them. Shared by server enforcement and client pre-check.
 */
import { PermissionDeniedError } from '../errors.js';
import type { Predicate, Scalar } from '../query/ast.js';
import { compilePredicate, type Doc, type DocPredicate } from '../query/compile.js';
import { canonicalJson, readField } from '../query/values.js';
import {
  type CollectionRules,
  type FieldMask,
  isUpdateCheck,
  placeholderPath,
  type Principal,
  type RuleCheck,
  type RuleOperation,
  type Rules,
  toCheckPredicate,
} from './define-rules.js';

/** Which part of the rules decided. */
export type DecidingRule = RuleOperation | 'readMask' | 'writeMask' | 'default';

/** A decision with its reason. */
export interface RuleDecision {
  readonly allowed: boolean;
  readonly collection: string;
  readonly operation: RuleOperation;
  readonly rule: DecidingRule;
  /** For update: which document the deciding check ran on. */
  readonly side?: 'old' | 'new';
  /** The clause that decided, e.g. `or[1]: owner eq "u1"`, `constant true`, `no rule`. */
  readonly clause: string;
  /** One sentence for humans. */
  readonly reason: string;
}

/** What {@link RulesEvaluator.explain} answers. */
export interface RulesExplanation {
  readonly collection: string;
  readonly exists: boolean;
  readonly read: RuleDecision;
  readonly update: RuleDecision;
  readonly delete: RuleDecision;
  readonly hiddenFields: readonly string[];
}

/** A write to check. */
export interface WriteCheckInput {
  readonly collection: string;
  readonly operation: 'insert' | 'update' | 'delete';
  readonly principal: Principal;
  readonly id?: string;
  /** The document before the write (update, delete). */
  readonly old?: Doc;
  /** The document after the write (insert, update). */
  readonly new?: Doc;
  /** The field paths the write sets (checked against the write mask). */
  readonly fields?: readonly string[];
}

/** The evaluator. */
export interface RulesEvaluator {
  readonly rules: Rules;
  /** Whether `principal` may see `doc` of `collection` (read rule). */
  canRead(collection: string, doc: Doc, principal: Principal): boolean;
  /** The read decision with its reason. */
  explainRead(collection: string, doc: Doc, principal: Principal): RuleDecision;
  /** `doc` without the fields the read mask hides from `principal` (same object when none). */
  mask(collection: string, doc: Doc, principal: Principal): Doc;
  /** The fields hidden from `principal` in `collection`. */
  hiddenFields(collection: string, principal: Principal): readonly string[];
  /** Decide a write. */
  checkWrite(input: WriteCheckInput): RuleDecision;
  /** Why `doc` is or is not visible, updatable (unchanged) and deletable by `principal`. */
  explain(collection: string, doc: Doc | undefined, principal: Principal): RulesExplanation;
  /** Decide a write; throws {@link PermissionDeniedError} when refused. */
  assertWrite(input: WriteCheckInput): void;
}

/** What a quick check answers for an allowed write (never handed out). */
const ALLOWED: RuleDecision = Object.freeze({
  allowed: true,
  collection: '',
  operation: 'insert',
  rule: 'insert',
  clause: '',
  reason: '',
});

type Compiled = { readonly fn: DocPredicate; readonly pred: Predicate | boolean };

function bindValue(v: Scalar, p: Principal): Scalar | readonly Scalar[] {
  const path = placeholderPath(v);
  if (path === undefined) return v;
  const c = readField(p, path);
  if (Array.isArray(c))
    return c.filter((x): x is Scalar => ['string', 'number', 'boolean'].includes(typeof x));
  // A missing (or null, or object) claim is no value: `eq` matches nothing. Binding it to null
  // would let a token without `sub` match every document without an owner.
  if (c === undefined || c === null || typeof c === 'object') return [];
  return c as Scalar;
}

/** Replace placeholders by claims. An array claim turns `eq` into `in` and spreads into `in`. @internal */
export function bindPredicate(pr: Predicate, p: Principal): Predicate {
  switch (pr.op) {
    case 'and':
    case 'or':
      return { op: pr.op, args: pr.args.map((a) => bindPredicate(a, p)) };
    case 'not':
      return { op: 'not', arg: bindPredicate(pr.arg, p) };
    case 'in':
    case 'nin':
      return { op: pr.op, field: pr.field, values: pr.values.flatMap((v) => bindValue(v, p)) };
    case 'like':
    case 'ilike': {
      const b = bindValue(pr.pattern, p);
      return { op: pr.op, field: pr.field, pattern: typeof b === 'string' ? b : '\u0000' };
    }
    case 'exists':
      return pr;
    default: {
      const b = bindValue(pr.value, p);
      if (!Array.isArray(b)) return { op: pr.op, field: pr.field, value: b as Scalar };
      if (pr.op === 'eq') return { op: 'in', field: pr.field, values: b };
      if (pr.op === 'ne') return { op: 'nin', field: pr.field, values: b };
      if (pr.op === 'contains')
        return { op: 'or', args: b.map((x) => ({ op: 'contains', field: pr.field, value: x }) as Predicate) };
      return { op: pr.op, field: pr.field, value: null };
    }
  }
}

/** A short text for a predicate: `owner eq "u1"`. @internal */
export function describePredicate(pr: Predicate): string {
  switch (pr.op) {
    case 'and':
    case 'or':
      return `${pr.op}(${pr.args.map(describePredicate).join(', ')})`;
    case 'not':
      return `not(${describePredicate(pr.arg)})`;
    case 'in':
    case 'nin':
      return `${pr.field} ${pr.op} ${canonicalJson(pr.values)}`;
    case 'like':
    case 'ilike':
      return `${pr.field} ${pr.op} ${JSON.stringify(pr.pattern)}`;
    case 'exists':
      return `${pr.field} exists`;
    default:
      return `${pr.field} ${pr.op} ${canonicalJson(pr.value)}`;
  }
}

/** Which clause made a predicate true or false on `doc`. @internal */
export function decidingClause(pr: Predicate, doc: Doc, path = ''): string {
  const at = (s: string) => (path ? `${path}: ${s}` : s);
  if (pr.op === 'and' || pr.op === 'or') {
    const want = pr.op === 'or';
    for (let i = 0; i < pr.args.length; i++) {
      const a = pr.args[i]!;
      if (compilePredicate(a)(doc) === want) return decidingClause(a, doc, `${path}${pr.op}[${i}]`);
    }
    return at(
      want
        ? `no clause of ${describePredicate(pr)} matched`
        : `every clause of ${describePredicate(pr)} matched`,
    );
  }
  return at(describePredicate(pr));
}

function resolve(check: RuleCheck, p: Principal, where: string): Predicate | boolean {
  const c = typeof check === 'function' ? check(p) : check;
  const pr = toCheckPredicate(c, where);
  return typeof pr === 'boolean' ? pr : bindPredicate(pr, p);
}

/** Create the evaluator for defined rules. Compiled checks are cached per principal object. */
export function createRulesEvaluator(rules: Rules): RulesEvaluator {
  // Keyed by the check itself (what it compiles to depends on nothing else): no key to build per call.
  const cache = new WeakMap<Principal, Map<RuleCheck, Compiled>>();

  function compiled(collection: string, key: string, check: RuleCheck, p: Principal): Compiled {
    let m = cache.get(p);
    if (!m) cache.set(p, (m = new Map()));
    let c = m.get(check);
    if (!c) {
      const pred = resolve(check, p, `${collection}.${key}`);
      c = { pred, fn: typeof pred === 'boolean' ? () => pred : compilePredicate(pred) };
      m.set(check, c);
    }
    return c;
  }

  function decide(
    collection: string,
    operation: RuleOperation,
    rule: DecidingRule,
    check: RuleCheck | undefined,
    key: string,
    doc: Doc,
    p: Principal,
    side?: 'old' | 'new',
    quick = false,
  ): RuleDecision {
    if (check === undefined)
      return {
        collection,
        operation,
        ...(side ? { side } : {}),
        rule: 'default',
        allowed: false,
        clause: 'no rule',
        reason: `"${collection}" has no ${key} rule: denied by default.`,
      };
    const c = compiled(collection, key, check, p);
    const allowed = c.fn(doc);
    // Only whether it is allowed (assertWrite): finding the clause re-runs sub-predicates.
    if (quick && allowed) return ALLOWED;
    const clause = typeof c.pred === 'boolean' ? `constant ${c.pred}` : decidingClause(c.pred, doc);
    const on = side ? ` on the ${side} document` : '';
    return {
      collection,
      operation,
      rule,
      ...(side ? { side } : {}),
      allowed,
      clause,
      reason: `${collection}.${key}${on} ${allowed ? 'allowed' : 'denied'} by ${clause}.`,
    };
  }

  const updates = new WeakMap<
    CollectionRules,
    { split: boolean; oldCheck?: RuleCheck; newCheck?: RuleCheck }
  >();
  /** The update checks of a collection's rules, old and new side (worked out once). */
  function updateChecks(e: CollectionRules) {
    let r = updates.get(e);
    if (!r) {
      const u = e.update;
      const split = u !== undefined && typeof u !== 'function' && isUpdateCheck(u);
      const oldCheck = split ? u.old : (u as RuleCheck | undefined);
      const newCheck = split ? u.new : (u as RuleCheck | undefined);
      r = {
        split,
        ...(oldCheck !== undefined ? { oldCheck } : {}),
        ...(newCheck !== undefined ? { newCheck } : {}),
      };
      updates.set(e, r);
    }
    return r;
  }

  function entry(collection: string): CollectionRules | undefined {
    return rules.collections.get(collection);
  }

  function maskOf(m: FieldMask | undefined, p: Principal): readonly string[] {
    if (!m) return [];
    return typeof m === 'function' ? m(p) : m;
  }

  function explainRead(collection: string, doc: Doc, p: Principal): RuleDecision {
    const e = entry(collection);
    if (!e)
      return {
        collection,
        operation: 'read',
        rule: 'default',
        allowed: false,
        clause: 'no rules',
        reason: `"${collection}" has no rules: denied by default.`,
      };
    return decide(collection, 'read', 'read', e.read, 'read', doc, p);
  }

  /** Decide a write; `quick`: an allowed write gets the shared {@link ALLOWED} (no reason worked out). */
  function checkWrite(w: WriteCheckInput, quick = false): RuleDecision {
    const { collection, operation, principal: p } = w;
    const e = entry(collection);
    if (!e)
      return {
        collection,
        operation,
        rule: 'default',
        allowed: false,
        clause: 'no rules',
        reason: `"${collection}" has no rules: denied by default.`,
      };
    const blocked = maskOf(e.writeMask, p);
    if (blocked.length && w.fields) {
      for (const f of w.fields) {
        const hit = maskHit(blocked, f);
        if (hit !== undefined)
          return {
            collection,
            operation,
            rule: 'writeMask',
            allowed: false,
            clause: `field ${hit}`,
            reason: `${collection}.writeMask: field "${hit}" may not be written.`,
          };
      }
    }
    if (operation === 'insert')
      return decide(collection, operation, 'insert', e.insert, 'insert', w.new ?? {}, p, undefined, quick);
    if (operation === 'delete')
      return decide(collection, operation, 'delete', e.delete, 'delete', w.old ?? {}, p, undefined, quick);
    const { split, oldCheck, newCheck } = updateChecks(e);
    const first = decide(
      collection,
      operation,
      'update',
      oldCheck,
      split ? 'update.old' : 'update',
      w.old ?? {},
      p,
      'old',
      quick,
    );
    if (!first.allowed) return first;
    return decide(
      collection,
      operation,
      'update',
      newCheck,
      split ? 'update.new' : 'update',
      w.new ?? {},
      p,
      'new',
      quick,
    );
  }

  return {
    rules,
    canRead: (c, d, p) => {
      const e = entry(c);
      return e?.read !== undefined && compiled(c, 'read', e.read, p).fn(d);
    },
    explainRead,
    hiddenFields: (c, p) => maskOf(entry(c)?.readMask, p),
    mask(c, d, p) {
      const hidden = maskOf(entry(c)?.readMask, p);
      if (!hidden.length) return d;
      let out: Record<string, unknown> | undefined;
      for (const f of hidden) {
        const [head, ...rest] = f.split('.');
        if (!Object.hasOwn(out ?? d, head!)) continue;
        out ??= { ...d };
        if (rest.length === 0) delete out[head!];
        else out[head!] = withoutPath(out[head!], rest);
      }
      return out ?? d;
    },
    checkWrite: (w) => checkWrite(w),
    explain(c, d, p) {
      const doc = d ?? {};
      return {
        collection: c,
        exists: d !== undefined,
        read: explainRead(c, doc, p),
        update: checkWrite({ collection: c, operation: 'update', principal: p, old: doc, new: doc }),
        delete: checkWrite({ collection: c, operation: 'delete', principal: p, old: doc }),
        hiddenFields: maskOf(entry(c)?.readMask, p),
      };
    },
    assertWrite(w) {
      const d = checkWrite(w, true);
      if (!d.allowed)
        throw new PermissionDeniedError(
          `Permission denied: ${d.reason} Check the rules or the caller's claims.`,
          {
            details: {
              collection: d.collection,
              ...(w.id !== undefined ? { id: w.id } : {}),
              operation: d.operation,
              rule: d.rule,
              clause: d.clause,
            },
          },
        );
    },
  };
}

/** The entry of `blocked` that `field` is, is inside, or contains (`a` blocks `a.b` and `a.b` blocks `a`). */
function maskHit(blocked: readonly string[], field: string): string | undefined {
  for (let i = 0; i < blocked.length; i++) {
    const b = blocked[i]!;
    if (field === b) return b;
    if (field.length > b.length ? isPathPrefix(b, field) : isPathPrefix(field, b)) return b;
  }
  return undefined;
}

/** `prefix.` starts `path`. */
const isPathPrefix = (prefix: string, path: string) =>
  path.charCodeAt(prefix.length) === 46 /* . */ && path.startsWith(prefix);

function withoutPath(v: unknown, path: readonly string[]): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, path[0]!)) return v;
  const copy = { ...(v as Record<string, unknown>) };
  if (path.length === 1) delete copy[path[0]!];
  else copy[path[0]!] = withoutPath(copy[path[0]!], path.slice(1));
  return copy;
}
