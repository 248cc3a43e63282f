/// <reference types="vite/client" />
/**
 * Protocol fixtures: every message in fixtures/*.json must keep decoding with today's
 * schemas, unchanged. A failure here means a change that breaks v1 peers: bump
 * PROTOCOL_VERSION and keep decoding v1 instead.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage } from './codec.js';
import { PROTOCOL_SCHEMAS, type ProtocolSchemaName } from './schemas.js';
import { PROTOCOL_HISTORY, PROTOCOL_VERSION } from './version.js';

interface FixtureFile {
  schema: ProtocolSchemaName;
  examples: unknown[];
}

const files = import.meta.glob('./fixtures/*.json', { eager: true, import: 'default' }) as Record<
  string,
  FixtureFile
>;

describe('protocol v1 fixtures', () => {
  it('exist for every message schema', () => {
    const covered = new Set(Object.values(files).map((f) => f.schema));
    expect([...covered].sort()).toEqual(Object.keys(PROTOCOL_SCHEMAS).sort());
  });

  for (const [path, file] of Object.entries(files)) {
    it(`${path} decodes unchanged with ${file.schema}`, () => {
      expect(file.examples.length).toBeGreaterThan(0);
      const schema = PROTOCOL_SCHEMAS[file.schema];
      for (const example of file.examples) {
        expect(decodeMessage(schema, example, file.schema)).toEqual(example);
      }
    });
  }

  it('has a history line for every version up to the current one', () => {
    expect(PROTOCOL_HISTORY.map((h) => h.version)).toEqual(
      Array.from({ length: PROTOCOL_VERSION }, (_, i) => i + 1),
    );
  });

  it('covers every live client message type', () => {
    const live = Object.values(files).find((f) => f.schema === 'liveClientMessage')!;
    const types = new Set(live.examples.map((e) => (e as { type: string }).type));
    expect([...types].sort()).toEqual(
      PROTOCOL_SCHEMAS.liveClientMessage.def.options.map((o) => o.shape.type.def.values[0]).sort(),
    );
  });
});
