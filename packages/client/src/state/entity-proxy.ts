/**
 * @internal One document of the state as a proxy: reading a field reads the visible
 * document (and, in an observer's view, records that field); assigning a field is an
 * optimistic update of that document (seed 000 §2.1 "traps set"). Nested plain objects
 * are proxies too, so `todo.meta.color = 'red'` writes the one nested field.
 *
 * An entity proxy is made for one version of its document (the document object the store
 * holds): when the document changes, the next read through a list gives a new proxy. So a
 * memoised child component that got the old proxy as a prop re-renders, and one whose
 * document did not change keeps its props.
 */
import { ValidationError } from '@omnisync/core';
import type { Collection } from '../collection/collection.js';
import type { CollectionNodeDef, EntitySlot, NodeHandle, StateView } from './context.js';
import { NODE } from './context.js';
import { META, type MetaState } from './meta.js';
import { performWrite } from './omni-write.js';

type Path = readonly string[];

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null &&
  typeof v === 'object' &&
  !Array.isArray(v) &&
  (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

function readPath(doc: Record<string, unknown> | undefined, path: Path): unknown {
  let v: unknown = doc;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** `['meta', 'color']`, v → `{ meta: { color: v } }` (patches merge deeply). */
function nestedPatch(path: Path, value: unknown): Record<string, unknown> {
  let patch: unknown = value;
  for (let i = path.length - 1; i >= 0; i--) patch = { [path[i]!]: patch };
  return patch as Record<string, unknown>;
}

/** The meta of one document: dirty while a write to it is pending. */
function entityMeta(
  view: StateView,
  node: CollectionNodeDef,
  collection: Collection<any>,
  id: string,
): MetaState {
  const host = view.runtime.host;
  const pending = host.pending(node, id);
  view.record(`meta:${node.name}/${id}`, {
    group: `${node.name}/${id}`,
    read: () => {
      collection.get(id);
      return host.pending(node, id).length > 0;
    },
    seen: pending.length > 0,
  });
  const failed = pending.find((m) => m.tx.state === 'failed');
  return {
    status: failed ? 'error' : 'ready',
    error: failed?.tx.error?.error ?? null,
    lastUpdated: host.lastUpdated(node, id),
    isDirty: pending.length > 0,
  };
}

/** @internal Build the proxy of a document (or of a nested object at `path` inside it). */
export function entityProxy(
  view: StateView,
  node: CollectionNodeDef,
  collection: Collection<any>,
  id: string,
  path: Path = [],
  slot?: EntitySlot,
): object {
  const read = (): unknown => readPath(collection.get(id) as Record<string, unknown> | undefined, path);
  const handle: NodeHandle = {
    view,
    rebind: (other) =>
      path.length === 0
        ? entityFor(other, node, other.runtime.host.collection(node), id)
        : entityProxy(other, node, collection, id, path),
  };
  const keyBase = `${node.name}/${id}${path.length ? '.' + path.join('.') : ''}`;
  const group = `${node.name}/${id}`;
  const current = (): Record<string, unknown> | undefined => {
    const v = read();
    return isPlainObject(v) ? v : undefined;
  };
  return new Proxy(
    {},
    {
      get(_t, prop) {
        if (prop === NODE) return handle;
        if (prop === META) return entityMeta(view, node, collection, id);
        if (typeof prop === 'symbol') {
          if (prop === Symbol.toStringTag) return 'OmniSyncDocument';
          return undefined;
        }
        if (prop === 'toJSON') return () => current();
        const obj = current();
        const value = obj?.[prop];
        // `id` never changes: reading it (React keys) is not a dependency.
        if (prop === 'id' && path.length === 0) return value;
        if (slot !== undefined && view.observer?.recording) slot.read = true;
        view.record(`${keyBase}.${prop}`, {
          group,
          read: () => {
            const v = readPath(collection.get(id) as Record<string, unknown> | undefined, [...path, prop]);
            return isPlainObject(v) ? NESTED : v;
          },
          seen: isPlainObject(value) ? NESTED : value,
        });
        if (isPlainObject(value)) return entityProxy(view, node, collection, id, [...path, prop], slot);
        return value;
      },
      set(_t, prop, value) {
        if (typeof prop === 'symbol') return false;
        if (path.length === 0 && prop === 'id')
          throw new ValidationError(
            `A document's id cannot change (${node.name}/${id}): insert a new document instead.`,
          );
        const unwrapped =
          isPlainObject(value) || Array.isArray(value) ? structuredClone(plain(value)) : value;
        const host = view.runtime.host;
        performWrite(host, () => {
          host.collection(node).update(id, nestedPatch([...path, prop], unwrapped));
        });
        return true;
      },
      deleteProperty(_t, prop) {
        if (typeof prop === 'symbol') return false;
        const host = view.runtime.host;
        performWrite(host, () => {
          host.collection(node).update(id, nestedPatch([...path, prop], undefined));
        });
        return true;
      },
      has(_t, prop) {
        if (prop === NODE || prop === META) return true;
        const obj = current();
        return obj !== undefined && typeof prop === 'string' && Object.hasOwn(obj, prop);
      },
      ownKeys() {
        const obj = current();
        view.record(`${keyBase}.*`, {
          read: () => Object.keys(current() ?? {}).join('\u0000'),
          seen: Object.keys(obj ?? {}).join('\u0000'),
        });
        return obj ? Object.keys(obj) : [];
      },
      getOwnPropertyDescriptor(_t, prop) {
        const obj = current();
        if (obj === undefined || typeof prop !== 'string' || !Object.hasOwn(obj, prop)) return undefined;
        const v = obj[prop];
        return {
          value: isPlainObject(v) ? entityProxy(view, node, collection, id, [...path, prop]) : v,
          writable: true,
          enumerable: true,
          configurable: true,
        };
      },
    },
  );
}

/** Nested objects are compared by their own fields' reads, not by identity. */
const NESTED = Symbol('nested');

/** A deep plain copy of a value that may hold state proxies. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value)) out[k] = plain((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/**
 * @internal The view's proxy for a document. A new proxy is made when the document changed
 * *and* this view's observer read a field through the old one: a memoised child that got
 * the old proxy as a prop (and read it on the parent's behalf) then re-renders. A proxy
 * nobody read through here (the child observes it itself) keeps its identity.
 */
export function entityFor(
  view: StateView,
  node: CollectionNodeDef,
  collection: Collection<any>,
  id: string,
  doc?: object,
): object {
  const key = `${node.name}/${id}`;
  const version = doc ?? view.runtime.host.peek(node, id) ?? EMPTY;
  const hit = view.entities.get(key);
  if (hit !== undefined) {
    if (hit.doc === version) return hit.proxy;
    if (!hit.read || view.observer === undefined) {
      hit.doc = version;
      return hit.proxy;
    }
  }
  const slot: EntitySlot = { doc: version, proxy: undefined as unknown as object, read: false };
  slot.proxy = entityProxy(view, node, collection, id, [], slot);
  view.entities.set(key, slot);
  return slot.proxy;
}

const EMPTY = {};

/** Used by `isPlainObject` consumers that need to know a value is a state document proxy. */
export function isEntityProxy(v: unknown): boolean {
  return v !== null && typeof v === 'object' && (v as { [NODE]?: unknown })[NODE] !== undefined;
}
