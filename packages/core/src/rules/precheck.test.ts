import { describe, expect, it } from 'vitest';
import { NonRetriableError, PermissionDeniedError, ValidationError } from '../errors.js';
import { defineRules, principal } from './define-rules.js';
import { createRulesEvaluator } from './evaluate-rules.js';
import { createWritesPrecheck, type PendingWrite } from './precheck.js';

const rules = defineRules({
  todos: {
    read: true,
    insert: { owner: principal('sub') },
    update: { old: { owner: principal('sub') }, new: { owner: principal('sub') } },
    delete: (p) => ((p.roles as string[] | undefined) ?? []).includes('admin'),
    writeMask: ['audit', 'tags'],
  },
  notes: { read: true, insert: true, update: true, delete: true },
  // `id` is not a written field (the server leaves it out too): this mask never refuses.
  pinned: { insert: true, writeMask: ['id'] },
});
const alice = { sub: 'alice' };

type Doc = Record<string, unknown>;
const write = (
  type: PendingWrite['type'],
  key: string,
  original: Doc,
  modified: Doc,
  fields = Object.keys(type === 'delete' ? { _deleted: true } : modified),
  collection = 'todos',
): PendingWrite => ({ type, collection, key, original, modified, fields: () => fields });
const insert = (doc: Doc & { id: string }, collection = 'todos') =>
  write('insert', doc.id, {}, doc, Object.keys(doc), collection);

/** The refusal's cause, checked to be what the server's assertWrite throws for the same write. */
function cause(err: Error | undefined): PermissionDeniedError {
  expect(err).toBeInstanceOf(NonRetriableError);
  const c = (err as NonRetriableError).cause;
  expect(c).toBeInstanceOf(PermissionDeniedError);
  expect((err as NonRetriableError).details).toMatchObject({ code: 'permission_denied' });
  expect(err!.message).toBe(
    `The rules refused transaction tx1 before it was sent: permission_denied: ${(c as Error).message}`,
  );
  return c as PermissionDeniedError;
}

describe('createWritesPrecheck: a transaction judged as the server judges its mutation', () => {
  const check = rules.precheck!(alice);

  it('insert: the new document; the refusal is the evaluator’s own PermissionDeniedError', () => {
    expect(check('tx1', [insert({ id: 't1', owner: 'alice' })])).toBeUndefined();
    const c = cause(check('tx1', [insert({ id: 't2', owner: 'bob' })]));
    let server: unknown;
    try {
      createRulesEvaluator(rules).assertWrite({
        collection: 'todos',
        operation: 'insert',
        principal: alice,
        id: 't2',
        new: { id: 't2', owner: 'bob' },
        fields: ['owner'],
      });
    } catch (e) {
      server = e;
    }
    expect(c.message).toBe((server as Error).message);
    expect(c.details).toEqual((server as PermissionDeniedError).details);
    expect(c.details).toEqual({
      collection: 'todos',
      id: 't2',
      operation: 'insert',
      rule: 'insert',
      clause: 'owner eq "alice"',
    });
  });

  it('update: the old document and the new one', () => {
    const mine = { id: 't1', owner: 'alice', title: 'a' };
    expect(check('tx1', [write('update', 't1', mine, { ...mine, title: 'b' }, ['title'])])).toBeUndefined();
    expect(
      cause(check('tx1', [write('update', 't1', mine, { ...mine, owner: 'bob' }, ['owner'])])).details,
    ).toMatchObject({
      rule: 'update',
    });
    expect(
      cause(check('tx1', [write('update', 't1', mine, { ...mine, owner: 'bob' }, ['owner'])])).message,
    ).toContain('on the new document');
    const theirs = { id: 't3', owner: 'bob' };
    expect(
      cause(check('tx1', [write('update', 't3', theirs, { ...theirs, owner: 'alice' }, ['owner'])])).message,
    ).toContain('on the old document');
  });

  it('delete: the old document; claims decide', () => {
    const mine = { id: 't1', owner: 'alice' };
    expect(cause(check('tx1', [write('delete', 't1', mine, mine)])).details).toMatchObject({
      rule: 'delete',
    });
    const admin = rules.precheck!({ sub: 'alice', roles: ['admin'] });
    expect(admin('tx1', [write('delete', 't1', mine, mine)])).toBeUndefined();
  });

  it('several writes to one document are one write: an insert then an update is the insert of the result', () => {
    const first = { id: 't4', owner: 'alice', title: 'a' };
    const then = write('update', 't4', first, { ...first, title: 'b' }, ['title']);
    expect(check('tx1', [insert(first), then])).toBeUndefined();
    // Giving it away in the same transaction: the insert of a document owned by bob.
    const away = write('update', 't4', first, { ...first, owner: 'bob' }, ['owner']);
    expect(cause(check('tx1', [insert(first), away])).details).toMatchObject({
      operation: 'insert',
      rule: 'insert',
    });
    // Inserted and deleted: the delete of `{ id }`, as the server sees a document it never had.
    expect(cause(check('tx1', [insert(first), write('delete', 't4', first, first)])).details).toMatchObject({
      operation: 'delete',
      id: 't4',
    });
  });

  it('one refused document refuses the transaction; other collections and documents are checked too', () => {
    const ok = insert({ id: 'n1' }, 'notes');
    expect(check('tx1', [ok, insert({ id: 't1', owner: 'alice' })])).toBeUndefined();
    expect(cause(check('tx1', [ok, insert({ id: 't5', owner: 'bob' })])).details).toMatchObject({ id: 't5' });
    expect(cause(check('tx1', [insert({ id: 'x1' }, 'other')])).details).toMatchObject({ rule: 'default' });
  });

  it('the write mask sees the fields written: not id, a set member as its set', () => {
    const mine = { id: 't1', owner: 'alice' };
    expect(check('tx1', [insert({ id: 't6', owner: 'alice', title: 'x' })])).toBeUndefined();
    expect(check('tx1', [insert({ id: 'p1', title: 'x' }, 'pinned')])).toBeUndefined();
    expect(
      cause(check('tx1', [write('update', 't1', mine, { ...mine, audit: 1 }, ['audit'])])).details,
    ).toMatchObject({
      rule: 'writeMask',
      clause: 'field audit',
    });
    expect(
      cause(check('tx1', [write('update', 't1', mine, { ...mine, tags: ['a'] }, ['tags[a]'])])).details,
    ).toMatchObject({ rule: 'writeMask', clause: 'field tags' });
  });

  it('collections `include` refuses are not checked', () => {
    const only = rules.precheck!(alice, (c) => c === 'notes');
    expect(only('tx1', [insert({ id: 'x1' }, 'other'), insert({ id: 't7', owner: 'bob' })])).toBeUndefined();
  });

  it('a principal function: read per transaction; undefined leaves the writes to the server', () => {
    let claims: Record<string, unknown> | undefined;
    const live = createWritesPrecheck(rules.evaluator!(), () => claims);
    const bobs = [insert({ id: 't8', owner: 'bob' })];
    expect(live('tx1', bobs)).toBeUndefined();
    claims = alice;
    expect(live('tx1', bobs)).toBeInstanceOf(NonRetriableError);
    claims = { sub: 'bob' };
    expect(live('tx1', bobs)).toBeUndefined();
    const odd = createWritesPrecheck(rules.evaluator!(), () => 'alice' as never);
    expect((odd('tx1', bobs) as NonRetriableError).cause).toBeInstanceOf(ValidationError);
  });

  it('a missing or malformed principal is refused when the check is made', () => {
    expect(() => rules.precheck!(undefined as never)).toThrow(ValidationError);
    expect(() => rules.precheck!('alice' as never)).toThrow(/needs `principal`/);
  });

  it('the evaluator rides on the rules, made once', () => {
    expect(rules.evaluator!()).toBe(rules.evaluator!());
    expect(rules.evaluator!().rules).toBe(rules);
  });
});
