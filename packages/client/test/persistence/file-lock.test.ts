import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFilePersistence } from '../../src/persistence/file.js';
import { cell } from '../../src/persistence/suite-support.js';
import { startChild } from './child-process.js';

const dir = mkdtempSync(join(tmpdir(), 'omnisync-file-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `store-${++n}.omnisync`);

describe('file persistence single-writer lock (real child processes)', () => {
  it('a second persistence on the same file in this process is refused until the first closes', async () => {
    const path = freshPath();
    const a = createFilePersistence({ path });
    await a.commit({ cells: [cell('todos', 'a', 'title', 'x')] });
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ pid: process.pid });
    const b = createFilePersistence({ path });
    await expect(b.load()).rejects.toMatchObject({
      name: 'PersistenceError',
      details: { reason: 'locked' },
      message: expect.stringMatching(/another persistence in this process/),
    });
    await expect(b.commit({ meta: { x: 1 } })).rejects.toMatchObject({ details: { reason: 'locked' } });
    await a.close();
    expect(existsSync(`${path}.lock`)).toBe(false);
    expect((await b.load()).cells).toHaveLength(1);
    await b.close();
  });

  it('a file held by another live process is refused, naming its pid; once it is SIGKILLed its stale lock is taken over', async () => {
    const path = freshPath();
    const child = startChild(['hold', path]);
    try {
      await child.waitFor(/^READY$/);
      const p = createFilePersistence({ path });
      await expect(p.load()).rejects.toMatchObject({
        name: 'PersistenceError',
        details: { reason: 'locked', pid: child.proc.pid },
        message: expect.stringContaining(`process ${child.proc.pid}`),
      });
      child.proc.kill('SIGKILL');
      expect(await child.exited).toMatchObject({ signal: 'SIGKILL' });
      expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ pid: child.proc.pid }); // left behind
      await p.commit({ cells: [cell('todos', 'a', 'title', 'mine now')] });
      expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ pid: process.pid });
      await p.close();
    } finally {
      child.proc.kill('SIGKILL');
    }
  });

  it('of two processes opening one file at once, exactly one gets it', async () => {
    const path = freshPath();
    const children = [startChild(['hold', path]), startChild(['hold', path])];
    try {
      const outcomes = await Promise.all(children.map((c) => c.waitFor(/^(READY|ERROR)/)));
      expect(outcomes.filter((o) => o === 'READY')).toHaveLength(1);
      expect(outcomes.find((o) => o !== 'READY')).toMatch(
        /^ERROR PersistenceError persistence_failed .*is locked by process \d+/,
      );
    } finally {
      for (const c of children) c.proc.kill('SIGKILL');
    }
  });

  it('an unreadable lock file (cut short by a crash) is taken over', async () => {
    const path = freshPath();
    writeFileSync(`${path}.lock`, '');
    const p = createFilePersistence({ path });
    await p.commit({ meta: { ok: true } });
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ pid: process.pid });
    await p.close();
  });
});
