/** Evaluator details the server's write checks rely on: no-value claims, the quick assertWrite, shared checks. */
import { describe, expect, it } from 'vitest';
import { PermissionDeniedError } from '../errors.js';
import { op } from '../query/builder.js';
import { defineRules, principal } from './define-rules.js';
import { createRulesEvaluator } from './evaluate-rules.js';

describe('rules evaluator (write side)', () => {
  it('a missing or null claim is no value: eq/in match nothing, ne matches', () => {
    const ev = createRulesEvaluator(
      defineRules({
        t: { insert: { owner: principal('sub') }, delete: op.ne('owner', principal('sub')) },
      }),
    );
    for (const p of [{}, { sub: null }, { sub: { nested: 1 } }]) {
      for (const doc of [{ id: 'a' }, { id: 'a', owner: null }, { id: 'a', owner: 'u1' }])
        expect(ev.checkWrite({ collection: 't', operation: 'insert', principal: p, new: doc }).allowed).toBe(
          false,
        );
      expect(
        ev.checkWrite({ collection: 't', operation: 'delete', principal: p, old: { id: 'a', owner: 'u1' } })
          .allowed,
      ).toBe(true);
    }
    expect(
      ev.checkWrite({
        collection: 't',
        operation: 'insert',
        principal: { sub: 'u1' },
        new: { id: 'a', owner: 'u1' },
      }).allowed,
    ).toBe(true);
  });

  it('assertWrite passes what checkWrite allows and refuses with the same rule, clause and reason', () => {
    const owned = { owner: principal('sub') };
    // One check object shared by two collections and both update sides.
    const ev = createRulesEvaluator(
      defineRules({
        a: { update: { old: owned, new: owned }, writeMask: ['meta.secret'] },
        b: { insert: owned },
      }),
    );
    const p = { sub: 'u1' };
    const cases = [
      {
        collection: 'a',
        operation: 'update' as const,
        principal: p,
        old: { id: 'x', owner: 'u1' },
        new: { id: 'x', owner: 'u1' },
      },
      {
        collection: 'a',
        operation: 'update' as const,
        principal: p,
        old: { id: 'x', owner: 'u1' },
        new: { id: 'x', owner: 'u2' },
      },
      {
        collection: 'a',
        operation: 'update' as const,
        principal: p,
        old: { id: 'x', owner: 'u2' },
        new: { id: 'x', owner: 'u1' },
      },
      {
        collection: 'a',
        operation: 'update' as const,
        principal: p,
        old: { id: 'x', owner: 'u1' },
        new: { id: 'x', owner: 'u1' },
        fields: ['meta'],
      },
      { collection: 'b', operation: 'insert' as const, principal: p, new: { id: 'y', owner: 'u1' } },
      {
        collection: 'b',
        operation: 'insert' as const,
        principal: { sub: 'u2' },
        new: { id: 'y', owner: 'u1' },
      },
    ];
    const outcomes = cases.map((c) => {
      const d = ev.checkWrite(c);
      let thrown: unknown;
      try {
        ev.assertWrite(c);
      } catch (err) {
        thrown = err;
      }
      if (d.allowed) expect(thrown).toBeUndefined();
      else {
        expect(thrown).toBeInstanceOf(PermissionDeniedError);
        const e = thrown as PermissionDeniedError;
        expect(e.message).toContain(d.reason);
        expect(e.details).toMatchObject({ rule: d.rule, clause: d.clause, operation: d.operation });
      }
      return d.allowed ? 'allowed' : `${d.rule}${d.side ? `.${d.side}` : ''}`;
    });
    expect(outcomes).toEqual(['allowed', 'update.new', 'update.old', 'writeMask', 'allowed', 'insert']);
  });
});
