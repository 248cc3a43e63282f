/**
 * The outbox form of a transaction keeps the schema version its writes are in (so a write
 * made before an app update is sent as that version); entries written before the field
 * existed read back without one; a damaged value is a PersistenceCorruptError, not a guess.
 */
import { PersistenceCorruptError } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { deserializeTransaction, serializeTransaction } from './serialize.js';
import { Transaction } from './transaction.js';

const tx = (schemaVersion?: number) => {
  const t = new Transaction('0000000001-0000-node', 1_000, 1, {});
  t.schemaVersion = schemaVersion;
  return t;
};

describe('schema_version in the outbox', () => {
  it('round-trips', () => {
    const back = deserializeTransaction(serializeTransaction(tx(3)), 0, 'test');
    expect(back.schemaVersion).toBe(3);
  });

  it('is absent without a version, and an old entry reads back without one', () => {
    const p = serializeTransaction(tx());
    expect('schema_version' in p).toBe(false);
    expect(deserializeTransaction(p, 0, 'test').schemaVersion).toBeUndefined();
  });

  it.each([0, -1, 1.5, '2', null])('refuses a damaged version (%j)', (bad) => {
    const p = { ...serializeTransaction(tx(2)), schema_version: bad };
    expect(() => deserializeTransaction(p, 0, 'test')).toThrow(PersistenceCorruptError);
    expect(() => deserializeTransaction(p, 0, 'test')).toThrow(/schema_version/);
  });
});
