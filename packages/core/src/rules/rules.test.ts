import { describe, expect, it } from 'vitest';
import { PermissionDeniedError, SchemaError } from '../errors.js';
import { op, q } from '../query/builder.js';
import { defineRules, principal } from './define-rules.js';
import { createRulesEvaluator } from './evaluate-rules.js';

const alice = { sub: 'alice', roles: ['member'], org: { id: 'o1' } };
const bob = { sub: 'bob', roles: ['admin'], org: { id: 'o2' } };
const anon = {};

const rules = defineRules({
  todos: {
    read: op.or(op.eq('owner', principal('sub')), op.eq('public', true)),
    insert: { owner: principal('sub') },
    update: { old: { owner: principal('sub') }, new: { owner: principal('sub') } },
    delete: (p) => ((p.roles as string[] | undefined) ?? []).includes('admin'),
    readMask: ['secret', 'meta.internal'],
    writeMask: ['createdBy'],
  },
  orgs: { read: q('orgs').where({ id: principal('org.id') }) },
  rolesDocs: { read: op.eq('role', principal('roles')) },
});
const ev = createRulesEvaluator(rules);

describe('defineRules + evaluator', () => {
  it('binds principal claims into the read filter and says which clause allowed', () => {
    const doc = { id: 't1', owner: 'alice', public: false };
    expect(ev.canRead('todos', doc, alice)).toBe(true);
    expect(ev.canRead('todos', doc, bob)).toBe(false);
    expect(ev.canRead('todos', doc, anon)).toBe(false);
    expect(ev.explainRead('todos', doc, alice).clause).toBe('or[0]: owner eq "alice"');
    expect(ev.explainRead('todos', { ...doc, public: true }, bob).clause).toBe('or[1]: public eq true');
    expect(ev.explainRead('todos', doc, bob)).toMatchObject({ allowed: false, rule: 'read' });
  });

  it('a query builder where and a nested claim path work as checks', () => {
    expect(ev.canRead('orgs', { id: 'o1' }, alice)).toBe(true);
    expect(ev.canRead('orgs', { id: 'o1' }, bob)).toBe(false);
    expect(ev.canRead('orgs', { id: 'o1' }, anon)).toBe(false);
  });

  it('an array claim used with eq matches any element', () => {
    expect(ev.canRead('rolesDocs', { id: 'r', role: 'admin' }, bob)).toBe(true);
    expect(ev.canRead('rolesDocs', { id: 'r', role: 'admin' }, alice)).toBe(false);
  });

  it('default deny: a collection without rules, and an operation without a check', () => {
    expect(ev.canRead('other', { id: 'x' }, bob)).toBe(false);
    expect(ev.explainRead('other', { id: 'x' }, bob)).toMatchObject({ rule: 'default', allowed: false });
    const d = ev.checkWrite({ collection: 'orgs', operation: 'insert', principal: bob, new: { id: 'o2' } });
    expect(d).toMatchObject({ allowed: false, rule: 'default', clause: 'no rule' });
  });

  it('update is checked on the old and on the new document', () => {
    const mine = { id: 't', owner: 'alice' };
    const base = { collection: 'todos', operation: 'update' as const, principal: alice };
    expect(ev.checkWrite({ ...base, old: mine, new: { ...mine, title: 'x' } }).allowed).toBe(true);
    // Giving the document away fails on the new side.
    expect(ev.checkWrite({ ...base, old: mine, new: { ...mine, owner: 'bob' } })).toMatchObject({
      allowed: false,
      side: 'new',
    });
    // Taking someone else's fails on the old side.
    expect(ev.checkWrite({ ...base, old: { id: 't', owner: 'bob' }, new: mine })).toMatchObject({
      allowed: false,
      side: 'old',
    });
  });

  it('assertWrite throws PermissionDeniedError with a stable code and details', () => {
    let err: unknown;
    try {
      ev.assertWrite({
        collection: 'todos',
        operation: 'delete',
        principal: alice,
        id: 't',
        old: { id: 't', owner: 'alice' },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect((err as PermissionDeniedError).code).toBe('permission_denied');
    expect((err as PermissionDeniedError).details).toMatchObject({
      collection: 'todos',
      id: 't',
      rule: 'delete',
      clause: 'constant false',
    });
    expect(() =>
      ev.assertWrite({ collection: 'todos', operation: 'delete', principal: bob, old: { id: 't' } }),
    ).not.toThrow();
  });

  it('write mask refuses a write touching a masked field; read mask removes fields', () => {
    const d = ev.checkWrite({
      collection: 'todos',
      operation: 'insert',
      principal: alice,
      new: { id: 't', owner: 'alice', createdBy: 'x' },
      fields: ['owner', 'createdBy'],
    });
    expect(d).toMatchObject({ allowed: false, rule: 'writeMask', clause: 'field createdBy' });
    const doc = { id: 't', owner: 'alice', secret: 's', meta: { internal: 1, shown: 2 } };
    expect(ev.mask('todos', doc, alice)).toEqual({ id: 't', owner: 'alice', meta: { shown: 2 } });
    expect(doc.secret).toBe('s');
    const plain = { id: 'o1' };
    expect(ev.mask('orgs', plain, alice)).toBe(plain);
  });

  it('explain answers read, update and delete with reasons', () => {
    const x = ev.explain('todos', { id: 't', owner: 'alice' }, alice);
    expect(x.read.allowed).toBe(true);
    expect(x.update.allowed).toBe(true);
    expect(x.delete).toMatchObject({ allowed: false, rule: 'delete' });
    expect(x.hiddenFields).toEqual(['secret', 'meta.internal']);
    expect(x.read.reason).toContain('allowed');
  });

  it('bad rules fail at definition with SchemaError', () => {
    expect(() => defineRules({ todos: { reed: true } as never })).toThrow(SchemaError);
    expect(() => defineRules({ todos: { read: { op: 'eq', field: '', value: 1 } as never } })).toThrow();
    expect(() => principal('')).toThrow(SchemaError);
  });
});
