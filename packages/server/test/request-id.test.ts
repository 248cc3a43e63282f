/**
 * Request ids on a real server: taken from `x-request-id` or generated, answered in the
 * header and in error bodies, and in the log lines written while the request ran (logs
 * captured from the server's own pino logger, and from a logger the app passes in).
 */
import { pino } from 'pino';
import { afterEach, expect, test } from 'vitest';
import { createLogger } from '../src/util/logger.js';
import { HttpClient, post } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

type Line = Record<string, unknown>;
const capture = () => {
  const lines: Line[] = [];
  return { lines, stream: { write: (s: string) => void lines.push(JSON.parse(s) as Line) } };
};

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function start(options: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(options);
  servers.push(s);
  return s;
}

test('an incoming x-request-id is in the error answer, its header and the request log line', async () => {
  const { lines, stream } = capture();
  const s = await start({ logger: createLogger('debug', stream) });
  const res = await post(
    s.url,
    '/v1/apps/rid/pull',
    { cursor: -5 },
    { headers: { 'x-request-id': 'abc-123' } },
  );
  expect(res.status).toBe(400);
  expect(res.body.error.requestId).toBe('abc-123');
  expect(typeof res.body.error.code).toBe('string');
  const line = lines.find((l) => l['msg'] === 'request' && l['requestId'] === 'abc-123');
  expect(line).toMatchObject({ status: 400, method: 'POST', path: '/v1/apps/rid/pull' });
});

test('without one, an id is generated; a hostile one is replaced; a success carries the header too', async () => {
  const { lines, stream } = capture();
  const s = await start({ logger: createLogger('debug', stream) });
  const res = await fetch(`${s.url}/v1/apps/rid/nope`, { method: 'POST', body: '{}' });
  const id = res.headers.get('x-request-id');
  expect(id).toMatch(/^req_[A-Za-z0-9_-]{16}$/);
  expect(((await res.json()) as { error: { requestId: string } }).error.requestId).toBe(id);
  expect(lines.some((l) => l['requestId'] === id)).toBe(true);

  const hostile = await fetch(`${s.url}/v1/health`, {
    headers: { 'x-request-id': `<script> ${'x'.repeat(200)}` },
  });
  expect(hostile.status).toBe(200);
  expect(hostile.headers.get('x-request-id')).toMatch(/^req_/);

  const ok = await new HttpClient(s.url, 'rid').call('pull', { cursor: 0 });
  expect(ok.status).toBe(200);
  const okId = lines.filter((l) => l['msg'] === 'request').at(-1)?.['requestId'];
  expect(okId).toMatch(/^req_/);
});

test('an internal failure deep in the engine is logged at error level with the request id', async () => {
  const { lines, stream } = capture();
  const s = await start({
    logger: createLogger('info', stream),
    storage: () => {
      throw new Error('disk on fire');
    },
  });
  const res = await post(
    s.url,
    '/v1/apps/broken/pull',
    { cursor: 0 },
    { headers: { 'x-request-id': 'deep-1' } },
  );
  expect(res.status).toBe(500);
  expect(res.body.error).toMatchObject({ code: 'internal', requestId: 'deep-1' });
  expect(res.text).not.toMatch(/disk on fire/);
  const errorLine = lines.find((l) => l['level'] === 50 && l['requestId'] === 'deep-1');
  expect(errorLine).toBeDefined();
  expect(JSON.stringify(errorLine)).toMatch(/disk on fire/);
});

test('a pino logger the app passes in gets the id through a child logger', async () => {
  const { lines, stream } = capture();
  const s = await start({ logger: pino({ level: 'debug' }, stream) });
  await post(s.url, '/v1/apps/rid/pull', { cursor: 'x' }, { headers: { 'x-request-id': 'own-logger' } });
  const mine = lines.filter((l) => l['requestId'] === 'own-logger');
  expect(mine.length).toBe(1);
  expect(mine[0]).toMatchObject({ msg: 'request', status: 400 });
});
