/**
 * Permission rules as queries: per collection, a `read` filter and `insert`/`update`/`delete`
 * checks written with the same predicates the query builder makes (`op.*`, a `where` object,
 * or a whole `q(...)` query whose `where` is taken), with `principal('sub')` placeholders
 * bound from the caller's JWT claims when the rule is evaluated. Once rules exist, a
 * collection without an entry is denied (default deny).
 */
import { SchemaError } from '../errors.js';
import type { Predicate, Scalar } from '../query/ast.js';
import { op, Query, type WhereObject } from '../query/builder.js';
import { validatePredicate } from '../query/validate.js';
import { createRulesEvaluator, type RulesEvaluator } from './evaluate-rules.js';
import { createWritesPrecheck, type PrincipalSource, type WritesPrecheck } from './precheck.js';

/** The authenticated caller: the JWT claims (`sub`, roles, custom claims). */
export type Principal = Readonly<Record<string, unknown>>;

/** The operations a rule can check. */
export type RuleOperation = 'read' | 'insert' | 'update' | 'delete';

/** A check: a predicate (builder output, where object or query), a constant, or a function of the principal. */
export type RuleCheck =
  | boolean
  | Predicate
  | WhereObject
  | Query<unknown>
  | ((principal: Principal) => boolean | Predicate | WhereObject | Query<unknown>);

/** An update check that differs for the document before (`old`) and after (`new`) the write. */
export interface UpdateCheck {
  readonly old?: RuleCheck;
  readonly new?: RuleCheck;
}

/** A list of field paths, fixed or per principal. */
export type FieldMask = readonly string[] | ((principal: Principal) => readonly string[]);

/** The rules of one collection. A missing check denies that operation. */
export interface CollectionRules {
  /** Which documents a principal sees. */
  readonly read?: RuleCheck;
  /** Checked on the new document. */
  readonly insert?: RuleCheck;
  /** Checked on both the old and the new document (one check for both, or `{ old, new }`). */
  readonly update?: RuleCheck | UpdateCheck;
  /** Checked on the old document. */
  readonly delete?: RuleCheck;
  /** Fields removed from every document this principal reads. */
  readonly readMask?: FieldMask;
  /** Fields this principal may not write (a write touching one is refused). */
  readonly writeMask?: FieldMask;
}

/** The rules of rooms (`$rooms`): who may join a room and send events to it. */
export interface RoomRules {
  readonly join?: boolean | ((principal: Principal, room: string) => boolean);
  readonly event?: boolean | ((principal: Principal, room: string, event: string) => boolean);
}

/** Input of {@link defineRules}: collection name → rules; `$rooms` for rooms. */
export type RulesInput = {
  // The index type admits RoomRules so that `$rooms` type-checks; defineRules refuses room keys on a collection.
  readonly [collection: string]: CollectionRules | RoomRules | undefined;
  readonly $rooms?: RoomRules;
};

/** Defined rules (frozen); pass to `createServer({ rules })` or `createRulesEvaluator`. */
export interface Rules {
  readonly kind: 'omnisync.rules';
  readonly collections: ReadonlyMap<string, CollectionRules>;
  readonly rooms: RoomRules | undefined;
  /**
   * The evaluator of these rules, created on first use and kept. A client given rules
   * (`createClient({ rules, principal })`) evaluates them through this, so an app that passes
   * no rules never ships the evaluator.
   */
  readonly evaluator?: () => RulesEvaluator;
  /**
   * The client pre-check of these rules for `principal` (see `createClient({ rules,
   * principal })`); writes to collections `include` refuses are not checked.
   */
  readonly precheck?: (
    principal: PrincipalSource,
    include?: (collection: string) => boolean,
  ) => WritesPrecheck;
}

const PLACEHOLDER = '\u0000omnisync.principal:';

/**
 * A placeholder for a principal claim (dotted path into the JWT claims: `'sub'`, `'org.id'`),
 * usable wherever a predicate takes a value. An array claim (e.g. roles) used with `eq`/`in`
 * matches any of its elements; a missing (or null) claim is no value: `eq`/`in` match nothing
 * (a token without `sub` owns no document), `ne`/`nin` match everything.
 * @example defineRules({ todos: { read: { owner: principal('sub') } } })
 */
export function principal(path: string): Scalar {
  if (typeof path !== 'string' || path.length === 0)
    throw new SchemaError('principal(path): give a claim name, e.g. principal("sub").');
  return `${PLACEHOLDER}${path}`;
}

/** The claim path of a placeholder value, or undefined. @internal */
export function placeholderPath(v: unknown): string | undefined {
  return typeof v === 'string' && v.startsWith(PLACEHOLDER) ? v.slice(PLACEHOLDER.length) : undefined;
}

/** Turn a check's static form into a predicate (or constant). @internal */
export function toCheckPredicate(
  c: boolean | Predicate | WhereObject | Query<unknown>,
  where: string,
): boolean | Predicate {
  if (typeof c === 'boolean') return c;
  if (c instanceof Query) return c.ast.where ?? true;
  if (c !== null && typeof c === 'object') {
    const o = c as Record<string, unknown>;
    if (typeof o.op === 'string' && ('field' in o || 'args' in o || 'arg' in o)) return validatePredicate(c);
    const entries = Object.entries(c as WhereObject);
    if (entries.length === 0) return true;
    const parts = entries.map(([field, v]) =>
      v !== null && typeof v === 'object'
        ? validatePredicate(whereEntry(field, v as Record<string, unknown>))
        : op.eq(field, v as Scalar),
    );
    return parts.length === 1 ? parts[0]! : op.and(...parts);
  }
  throw new SchemaError(
    `${where}: a rule check is a boolean, a predicate, a where object, a query or a function.`,
  );
}

function whereEntry(field: string, cond: Record<string, unknown>): Predicate {
  const parts = Object.entries(cond).map(([o, v]) => {
    if (o === 'in' || o === 'nin') return { op: o, field, values: v as Scalar[] } as Predicate;
    if (o === 'like' || o === 'ilike') return { op: o, field, pattern: v as string } as Predicate;
    if (o === 'exists') return v === false ? op.not(op.exists(field)) : op.exists(field);
    return { op: o, field, value: v as Scalar } as Predicate;
  });
  return parts.length === 1 ? parts[0]! : op.and(...parts);
}

const RULE_KEYS = new Set(['read', 'insert', 'update', 'delete', 'readMask', 'writeMask']);

/**
 * Define permission rules. Checks are validated now (a typo fails at start, not per request).
 * @example
 * export default defineRules({
 *   todos: {
 *     read: { owner: principal('sub') },
 *     insert: { owner: principal('sub') },
 *     update: { owner: principal('sub') },
 *     delete: (p) => (p.roles as string[] | undefined)?.includes('admin') ?? false,
 *     writeMask: ['createdBy'],
 *   },
 * });
 */
export function defineRules(input: RulesInput): Rules {
  if (input === null || typeof input !== 'object')
    throw new SchemaError('defineRules({...}): give an object of collection name → rules.');
  const collections = new Map<string, CollectionRules>();
  let rooms: RoomRules | undefined;
  for (const [name, value] of Object.entries(input)) {
    if (name === '$rooms') {
      rooms = Object.freeze({ ...(value as RoomRules) });
      continue;
    }
    const rules = value as CollectionRules;
    if (rules === null || typeof rules !== 'object')
      throw new SchemaError(
        `defineRules: rules of "${name}" must be an object like { read, insert, update, delete }.`,
      );
    for (const k of Object.keys(rules))
      if (!RULE_KEYS.has(k))
        throw new SchemaError(
          `defineRules: "${name}.${k}" is not a rule; use read, insert, update, delete, readMask, writeMask.`,
        );
    for (const k of ['read', 'insert', 'delete'] as const) {
      const c = rules[k];
      if (c !== undefined && typeof c !== 'function') toCheckPredicate(c, `${name}.${k}`);
    }
    const u = rules.update;
    if (u !== undefined && typeof u !== 'function') {
      if (isUpdateCheck(u)) {
        for (const side of ['old', 'new'] as const) {
          const c = u[side];
          if (c !== undefined && typeof c !== 'function') toCheckPredicate(c, `${name}.update.${side}`);
        }
      } else toCheckPredicate(u, `${name}.update`);
    }
    collections.set(name, Object.freeze({ ...rules }));
  }
  let evaluator: RulesEvaluator | undefined;
  const defined: Rules = Object.freeze({
    kind: 'omnisync.rules',
    collections,
    rooms,
    evaluator: () => (evaluator ??= createRulesEvaluator(defined)),
    precheck: (principal: PrincipalSource, include?: (collection: string) => boolean): WritesPrecheck =>
      createWritesPrecheck(defined.evaluator!(), principal, include),
  });
  return defined;
}

/** Whether an update rule is the `{ old, new }` form. @internal */
export function isUpdateCheck(u: RuleCheck | UpdateCheck): u is UpdateCheck {
  if (u === null || typeof u !== 'object' || u instanceof Query) return false;
  const keys = Object.keys(u);
  return keys.length > 0 && keys.every((k) => k === 'old' || k === 'new');
}

/** Whether a value is defined rules. */
export function isRules(v: unknown): v is Rules {
  return v !== null && typeof v === 'object' && (v as { kind?: unknown }).kind === 'omnisync.rules';
}
