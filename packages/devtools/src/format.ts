/** How the panel writes values, times and HLCs. */
import { isValidHlc, parseHlc } from '@omnisync/core';

const MAX_VALUE_CHARS = 120;

/** A value as short JSON (strings quoted), cut at 120 characters. */
export function formatValue(v: unknown): string {
  let s: string;
  try {
    s = v === undefined ? '—' : JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Wall-clock time of a Date or epoch ms, `HH:MM:SS.mmm` (local time). */
export function formatTime(t: Date | number | undefined): string {
  if (t === undefined) return '—';
  const d = typeof t === 'number' ? new Date(t) : t;
  if (Number.isNaN(d.getTime())) return '—';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** An HLC's parts for a tooltip: wall time, counter, node. */
export function describeHlc(hlc: string): string {
  if (!isValidHlc(hlc)) return 'not a valid HLC';
  const s = parseHlc(hlc);
  return `wall ${new Date(s.wall).toISOString()} · counter ${s.counter} · node ${s.node}`;
}

/** The first 8 characters of an id (the whole id goes in a tooltip). */
export const shortId = (id: string): string => (id.length > 10 ? `${id.slice(0, 8)}…` : id);
