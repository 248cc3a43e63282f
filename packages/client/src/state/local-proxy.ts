/**
 * @internal Local state nodes (seed 000 §5 "Local State (No binding = Memory)"): an
 * immutable value in a signal, read and assigned through proxies at any depth. A write
 * replaces the objects on its path (structural sharing), so readers of other branches
 * keep their values, and observers re-render only where a read value changed.
 */
import { ValidationError } from '@omnisync/core';
import type { LocalCell, NodeHandle, StateView } from './context.js';
import { NODE } from './context.js';
import type { NodeDef } from './define-state.js';
import { META, type MetaState } from './meta.js';

type LocalDef = Extract<NodeDef, { kind: 'local' }>;
type Path = readonly string[];

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null &&
  typeof v === 'object' &&
  !Array.isArray(v) &&
  (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

function readPath(root: unknown, path: Path): unknown {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** A new root with `value` at `path` (undefined removes the key); objects off the path are shared. */
function writePath(root: Record<string, unknown>, path: Path, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path as [string, ...string[]];
  const copy = { ...root };
  if (rest.length === 0) {
    if (value === undefined) delete copy[head];
    else copy[head] = value;
  } else {
    const child = root[head];
    copy[head] = writePath(isPlainObject(child) ? child : {}, rest, value);
  }
  return Object.freeze(copy);
}

/** A frozen deep copy of a value assigned into local state (state proxies read out to plain values). */
function freezeValue(v: unknown, where: string): unknown {
  if (
    v === undefined ||
    v === null ||
    typeof v === 'string' ||
    typeof v === 'number' ||
    typeof v === 'boolean'
  )
    return v;
  if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint')
    throw new ValidationError(
      `Local state ${where}: a ${typeof v} cannot be stored; store plain data (strings, numbers, booleans, arrays, objects).`,
    );
  if (v instanceof Date) return v;
  if (Array.isArray(v)) return Object.freeze(v.map((x, i) => freezeValue(x, `${where}[${i}]`)));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v as object))
    out[k] = freezeValue((v as Record<string, unknown>)[k], `${where}.${k}`);
  return Object.freeze(out);
}

const NESTED = Symbol('nested');

/** @internal The proxy of a local node (or of an object nested in it). */
export function localProxy(view: StateView, def: LocalDef, cell: LocalCell, path: Path = []): object {
  const where = [def.key, ...path].join('.');
  const current = (): Record<string, unknown> => {
    const v = readPath(cell.value.peek(), path);
    return isPlainObject(v) ? v : {};
  };
  const handle: NodeHandle = {
    view,
    rebind: (other) => localProxy(other, def, other.runtime.host.local(def), path),
  };
  const metaOf = (): MetaState => {
    const at = cell.lastUpdated.peek();
    view.record(`meta:local:${where}`, { read: () => cell.lastUpdated.get(), seen: at });
    return { status: 'ready', error: null, lastUpdated: at, isDirty: false };
  };
  return new Proxy(
    {},
    {
      get(_t, prop) {
        if (prop === NODE) return handle;
        if (prop === META) return metaOf();
        if (typeof prop === 'symbol') return prop === Symbol.toStringTag ? 'OmniSyncLocalState' : undefined;
        if (prop === 'toJSON') return () => current();
        const full = [...path, prop];
        const value = readPath(cell.value.peek(), full);
        view.record(`local:${where}.${prop}`, {
          group: `local:${def.key}`,
          read: () => {
            const v = readPath(cell.value.get(), full);
            return isPlainObject(v) ? NESTED : v;
          },
          seen: isPlainObject(value) ? NESTED : value,
        });
        return isPlainObject(value) ? localProxy(view, def, cell, full) : value;
      },
      set(_t, prop, value) {
        if (typeof prop === 'symbol') return false;
        const plain =
          value !== null && typeof value === 'object' && (value as { [NODE]?: unknown })[NODE]
            ? JSON.parse(JSON.stringify(value))
            : value;
        cell.set(writePath(cell.value.peek(), [...path, prop], freezeValue(plain, `${where}.${prop}`)));
        return true;
      },
      deleteProperty(_t, prop) {
        if (typeof prop === 'symbol') return false;
        cell.set(writePath(cell.value.peek(), [...path, prop], undefined));
        return true;
      },
      has(_t, prop) {
        if (prop === NODE || prop === META) return true;
        return typeof prop === 'string' && Object.hasOwn(current(), prop);
      },
      ownKeys() {
        const keys = Object.keys(current());
        view.record(`local:${where}.*`, {
          read: () =>
            Object.keys((readPath(cell.value.get(), path) as object | undefined) ?? {}).join('\u0000'),
          seen: keys.join('\u0000'),
        });
        return keys;
      },
      getOwnPropertyDescriptor(_t, prop) {
        const obj = current();
        if (typeof prop !== 'string' || !Object.hasOwn(obj, prop)) return undefined;
        const v = obj[prop];
        return {
          value: isPlainObject(v) ? localProxy(view, def, cell, [...path, prop]) : v,
          writable: true,
          enumerable: true,
          configurable: true,
        };
      },
    },
  );
}

/** @internal A fresh local value from a definition's initial state. */
export function initialLocal(def: LocalDef): Record<string, unknown> {
  return freezeValue(def.initial, def.key) as Record<string, unknown>;
}
