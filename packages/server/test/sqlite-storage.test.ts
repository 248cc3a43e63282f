/** The shared storage suite on real SQLite files in a temp dir, plus SQLite-only checks. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSqliteStorage } from '@omnisync/server';
import { tempDir } from './helpers/servers.js';
import { storageSuite } from './storage-suite.js';

storageSuite('sqlite (WAL, durability full)', () => {
  const { dir, remove } = tempDir('omnisync-suite-');
  const file = join(dir, 'app.sqlite');
  return {
    create: async () => createSqliteStorage({ file }),
    reopen: async () => createSqliteStorage({ file }),
    cleanup: async () => remove(),
  };
});

describe('sqlite storage file', () => {
  it('is in WAL mode with synchronous FULL by default, NORMAL or OFF on request', async () => {
    const { dir, remove } = tempDir();
    try {
      for (const [durability, expected] of [
        [undefined, 'full'],
        ['normal', 'normal'],
        ['off', 'off'],
      ] as const) {
        const file = join(dir, `${durability ?? 'default'}.sqlite`);
        const s = createSqliteStorage({ file, ...(durability ? { durability } : {}) });
        expect(s.settings()).toEqual({ journalMode: 'wal', synchronous: expected });
        await s.close();
        expect(existsSync(file)).toBe(true);
      }
    } finally {
      remove();
    }
  });

  it('refuses a database written by a newer storage schema', async () => {
    const { dir, remove } = tempDir();
    try {
      const file = join(dir, 'x.sqlite');
      await createSqliteStorage({ file }).close();
      const db = new Database(file);
      db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema'").run();
      db.close();
      expect(() => createSqliteStorage({ file })).toThrow(/schema 99/);
    } finally {
      remove();
    }
  });
});
