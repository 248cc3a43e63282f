/**
 * Explain (issue 13 part 4), on real servers on loopback: `POST /v1/apps/:app/explain` behind
 * the admin token says why a stored document is or is not visible, updatable and deletable
 * for a principal (which rule, which clause, hidden fields), says so when the document is
 * missing or deleted and when the server has no rules; the endpoint's refusals are typed.
 */
import { op, principal } from '@omnisync/core';
import { defineRules } from '@omnisync/server';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServe } from './helpers/serve-process.js';
import { CellWriter, HttpClient, mutation, post } from './helpers/protocol-client.js';
import { startServer, tempDir, type TestServer } from './helpers/servers.js';

const SECRET = 'rules-explain-test-secret-0123456789abcdef';
const ADMIN = 'admin-token-for-the-explain-test';
const APP = 'explainapp';

const rules = defineRules({
  todos: {
    read: op.or(op.eq('owner', principal('sub')), op.eq('public', true)),
    insert: { owner: principal('sub') },
    update: { old: { owner: principal('sub') }, new: { owner: principal('sub') } },
    delete: (p) => ((p.roles as string[] | undefined) ?? []).includes('admin'),
    readMask: ['secret'],
  },
});

const token = (sub: string, claims: Record<string, unknown> = {}) =>
  new SignJWT({ app: APP, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(SECRET));

/** POST an explain request with `auth` as the bearer token (null: no Authorization header). */
const explain = (s: TestServer | { url: string }, body: unknown, auth: string | null = ADMIN, app = APP) =>
  post(s.url, `/v1/apps/${app}/explain`, body, auth === null ? {} : { token: auth });

let s: TestServer;
beforeAll(async () => {
  s = await startServer({ auth: { secret: SECRET }, rules, adminToken: ADMIN });
  // Alice (an admin) writes her documents through the ordinary push, with her own token.
  const alice = new HttpClient(s.url, APP, await token('alice', { roles: ['admin'] }));
  const w = new CellWriter();
  await alice.push('c-alice', [
    mutation(w.doc('todos', 'mine', { owner: 'alice', public: false, secret: 's1', title: 'private' })),
    mutation(w.doc('todos', 'shared', { owner: 'alice', public: true, title: 'public' })),
    mutation(w.doc('todos', 'gone', { owner: 'alice', public: true })),
  ]);
  const res = await alice.push('c-alice', [mutation(w.remove('todos', 'gone'))]);
  expect(res.results[0]).toMatchObject({ status: 'applied' });
});
afterAll(async () => {
  await s?.close();
});

describe('POST /v1/apps/:app/explain with rules', () => {
  test("the owner: visible by the read rule's first clause, updatable, not deletable without admin, the masked field named", async () => {
    const r = await explain(s, { collection: 'todos', id: 'mine', principal: { sub: 'alice' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      app: APP,
      collection: 'todos',
      id: 'mine',
      rules: true,
      exists: true,
      deleted: false,
      read: { allowed: true, rule: 'read', clause: 'or[0]: owner eq "alice"' },
      update: { allowed: true, rule: 'update', side: 'new' },
      delete: { allowed: false, rule: 'delete', clause: 'constant false' },
      hiddenFields: ['secret'],
    });
    expect(r.body.summary).toBe(
      'todos/mine exists. For this principal it is visible, updatable and not deletable; hidden fields: secret.',
    );
    // An admin claim changes the delete answer.
    const admin = await explain(s, {
      collection: 'todos',
      id: 'mine',
      principal: { sub: 'alice', roles: ['admin'] },
    });
    expect(admin.body.delete).toMatchObject({ allowed: true, clause: 'constant true' });
  });

  test('another user: a public document is visible by the second clause; the update is refused on the old document', async () => {
    const shared = await explain(s, { collection: 'todos', id: 'shared', principal: { sub: 'bob' } });
    expect(shared.body.read).toMatchObject({ allowed: true, clause: 'or[1]: public eq true' });
    expect(shared.body.update).toMatchObject({
      allowed: false,
      rule: 'update',
      side: 'old',
      clause: 'owner eq "bob"',
    });
    expect(shared.body.update.reason).toBe('todos.update.old on the old document denied by owner eq "bob".');
    const mine = await explain(s, { collection: 'todos', id: 'mine', principal: { sub: 'bob' } });
    expect(mine.body.read).toMatchObject({
      allowed: false,
      rule: 'read',
      clause: 'no clause of or(owner eq "bob", public eq true) matched',
    });
    expect(mine.body.summary).toContain('not visible, not updatable and not deletable');
  });

  test('a missing and a deleted document are said to be so', async () => {
    const missing = await explain(s, { collection: 'todos', id: 'never', principal: { sub: 'alice' } });
    expect(missing.status).toBe(200);
    expect(missing.body).toMatchObject({ exists: false, deleted: false, rules: true });
    expect(missing.body.summary).toMatch(
      /^todos\/never does not exist .*decisions are for an empty document/,
    );
    const gone = await explain(s, { collection: 'todos', id: 'gone', principal: { sub: 'alice' } });
    expect(gone.body).toMatchObject({ exists: false, deleted: true });
    expect(gone.body.summary).toMatch(/^todos\/gone is deleted \(a tombstone\)/);
  });

  test('a collection without rules: denied by default, and the answer says so', async () => {
    const r = await explain(s, { collection: 'notes', id: 'n1', principal: { sub: 'alice' } });
    expect(r.status).toBe(200);
    expect(r.body.read).toMatchObject({
      allowed: false,
      rule: 'default',
      reason: '"notes" has no rules: denied by default.',
    });
    expect(r.body.update.allowed).toBe(false);
  });

  test('the engine answers the same as the endpoint', async () => {
    const direct = await s.server.engine.explain({
      app: APP,
      collection: 'todos',
      id: 'shared',
      principal: { sub: 'bob' },
    });
    const http = await explain(s, { collection: 'todos', id: 'shared', principal: { sub: 'bob' } });
    expect(http.body).toEqual(JSON.parse(JSON.stringify(direct)));
  });
});

describe('the endpoint refuses', () => {
  test('no token or a wrong one (a user JWT included): 401 unauthorized', async () => {
    const body = { collection: 'todos', id: 'mine', principal: { sub: 'alice' } };
    const none = await explain(s, body, null);
    expect(none.status).toBe(401);
    expect(none.body.error).toMatchObject({ code: 'unauthorized' });
    expect(none.body.error.message).toContain('Authorization: Bearer <adminToken>');
    for (const wrong of ['not-the-admin-token', await token('alice', { roles: ['admin'] })]) {
      const r = await explain(s, body, wrong);
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
      expect(r.text).not.toContain('private'); // nothing of the document leaks
    }
  });

  test('a bad body: 400 invalid_input naming the field', async () => {
    const cases: [unknown, string][] = [
      [[], 'body'],
      [{ id: 'mine', principal: { sub: 'a' } }, 'collection'],
      [{ collection: 'bad name', id: 'mine', principal: {} }, 'collection'],
      [{ collection: 'todos', id: '', principal: {} }, 'id'],
      [{ collection: 'todos', id: 'mine' }, 'principal'],
      [{ collection: 'todos', id: 'mine', principal: ['sub'] }, 'principal'],
      [{ collection: 'todos', id: 'mine', principal: 'alice' }, 'principal'],
      [{ collection: 'todos', id: 'mine', principal: {}, extra: 1 }, 'extra'],
    ];
    for (const [body, field] of cases) {
      const r = await explain(s, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'invalid_input', details: { field } });
      expect(r.body.error.message).toContain(field === 'body' ? 'JSON object' : `"${field}"`);
    }
    const notJson = await post(s.url, `/v1/apps/${APP}/explain`, '{"collection":', {
      raw: true,
      token: ADMIN,
    });
    expect(notJson.status).toBe(400);
  });

  test('a bad app name: 400, before anything is opened', async () => {
    const r = await explain(s, { collection: 'todos', id: 'x', principal: {} }, ADMIN, 'bad%20app');
    expect(r.status).toBe(400);
  });
});

describe('servers without rules or without an admin token', () => {
  test('no admin token configured: 404 not_found saying how to turn explain on', async () => {
    const off = await startServer({ auth: { secret: SECRET }, rules });
    try {
      const r = await explain(off, { collection: 'todos', id: 'mine', principal: {} });
      expect(r.status).toBe(404);
      expect(r.body.error).toMatchObject({ code: 'not_found', details: { enable: 'adminToken' } });
      expect(r.body.error.message).toContain('--admin-token');
    } finally {
      await off.close();
    }
  });

  test('no rules: a clear answer that the server has none', async () => {
    const open = await startServer({ adminToken: ADMIN });
    try {
      const w = new CellWriter();
      await new HttpClient(open.url, APP).push('c1', [mutation(w.doc('todos', 't1', { title: 'x' }))]);
      const r = await explain(open, { collection: 'todos', id: 't1', principal: { sub: 'u1' } });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        rules: false,
        exists: true,
        deleted: false,
        collection: 'todos',
        id: 't1',
      });
      expect(r.body.summary).toContain('This server has no permission rules');
      expect(r.body.read).toBeUndefined();
    } finally {
      await open.close();
    }
  });

  test('omnisync serve --admin-token turns it on', async () => {
    const dir = tempDir('omni-explain-cli-');
    const proc = await startServe([
      '--port',
      '0',
      '--data',
      dir.dir,
      '--durability',
      'off',
      '--admin-token',
      ADMIN,
    ]);
    try {
      const body = { collection: 'todos', id: 't1', principal: { sub: 'u1' } };
      expect((await explain(proc, body)).body).toMatchObject({ rules: false, exists: false });
      expect((await explain(proc, body, 'wrong')).status).toBe(401);
    } finally {
      await proc.stop();
      dir.remove();
    }
  });
});
