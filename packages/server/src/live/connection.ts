/**
 * One WebSocket connection: hello/auth, subscriptions with catch-up, targeted live changes
 * (or pokes), push over the socket, rooms, heartbeats, slow-consumer protection.
 *
 * Ordering: everything this connection is sent about data (catch-up pages, live changes)
 * goes through one queue, so a subscription's catch-up always precedes the live changes
 * that follow it, and each subscription skips live batches its catch-up already covered.
 *
 * Rules (issue 13): fan-out tests each change on the read rule and the masked view of the
 * document before and after it, for this connection's principal: a document that stops
 * being readable is evicted (named, no data), one that starts arrives whole, hidden fields'
 * cells are never sent, and a poke is sent only for changes this principal can see.
 */
import {
  decodeLiveClientMessage,
  DELETED_FIELD,
  LIVE_CLOSE_CODES,
  NotFoundError,
  type LiveClientMessage,
  OmniSyncError,
  checkExactJson,
  parseMessageText,
  PayloadTooLargeError,
  PROTOCOL_VERSION,
  PULL_LIMIT_DEFAULT,
  RateLimitedError,
  toOmniSyncError,
  toWireError,
  UnauthorizedError,
  ValidationError,
  InvalidStateError,
  type WireQuery,
  compileSyncQuery,
  type Cell,
  type WireCell,
  type WireDocKey,
} from '@omnisync/core';
import type { WebSocket } from 'ws';
import type { AuthContext } from '../engine/auth.js';
import { LIVE_FLOOD_BURSTS, TokenBucket } from '../engine/rate-limit.js';
import { matchesQuery, type SyncQuery } from '../engine/query-adapter.js';
import { type ReadFilter, readFilterOf } from '../engine/read-rules.js';
import type { Doc, DocChangeEvent } from '../engine/working-doc.js';
import type { LiveEngine } from './live-engine.js';
import { principalOf } from '../engine/rules.js';
import { assertRoomAllowed, type RoomPeer } from './rooms.js';
import { type PreparedMessage, prepareMessage, sendPrepared } from './ws-frame.js';

interface Subscription {
  readonly conn: LiveConnection;
  readonly queryId: string;
  /** As received (pull and snapshot take it again for the catch-up). */
  readonly wire: WireQuery;
  /** Compiled once: core's filter, what fan-out tests documents with. */
  readonly query: SyncQuery;
  /** The cursor its catch-up covered; undefined while catching up. */
  since: number | undefined;
}

interface Pick {
  readonly index: number;
  readonly event: DocChangeEvent;
  readonly entering: boolean;
  /** No longer readable by this principal (rules): named in `evicted`, no cells. */
  readonly evict?: boolean;
}

const CATCH_UP_CHUNK_CELLS = 2000;
const MAX_QUEUED_BEFORE_HELLO = 64;
const MAX_TIMER_MS = 2 ** 31 - 1;

const encode = (m: unknown) => Buffer.from(JSON.stringify(m));
/** Send options for every message: text frames (browsers hand binary ones to onmessage as Blobs). */
const TEXT_FRAME = { binary: false } as const;
const isTombstone = (ev: DocChangeEvent) => ev.changed.length === 1 && ev.changed[0]!.field === DELETED_FIELD;

/** A live connection of one app. */
export class LiveConnection implements RoomPeer {
  readonly id: string;
  readonly app: string;
  readonly #ws: WebSocket;
  readonly #engine: LiveEngine;
  #state: 'new' | 'authenticating' | 'open' | 'closed' = 'new';
  #auth: AuthContext | undefined;
  /** What this connection's principal may read (undefined: no rules). */
  #reads: ReadFilter | undefined;
  #clientId: string | undefined;
  #mode: 'changes' | 'poke' = 'changes';
  #helloCursor: number | undefined;
  readonly #subs = new Map<string, Subscription>();
  readonly #byCollection = new Map<string, Set<Subscription>>();
  readonly #rooms = new Set<string>();
  /** Joins waiting for their authorization; a leave meanwhile marks them left. */
  readonly #joining = new Map<string, { left: boolean }>();
  #queue: Promise<void> | undefined;
  readonly #early: Buffer[] = [];
  #alive = true;
  /** Message rate (undefined = unlimited). */
  readonly #bucket: TokenBucket | undefined;
  /** Dropped messages (made at the first one); empty = a flood. */
  #strikes: TokenBucket | undefined;
  #limitedAt = -Infinity;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(engine: LiveEngine, app: string, ws: WebSocket, id: string) {
    this.#engine = engine;
    this.app = app;
    this.#ws = ws;
    this.id = id;
    const limit = engine.options.messageLimit;
    this.#bucket = limit && new TokenBucket(limit, engine.options.clock.now());
    ws.on('message', (data, isBinary) => this.#onMessage(toBuffer(data), isBinary));
    ws.on('pong', () => (this.#alive = true));
    ws.on('close', () => this.#cleanup());
    ws.on('error', (err) => engine.log.debug({ err, conn: id }, 'socket error'));
    this.#helloTimer = setTimeout(() => {
      if (this.#state === 'new' || this.#state === 'authenticating')
        this.#fail(
          new UnauthorizedError('No hello received in time; send {type:"hello", token} first.'),
          LIVE_CLOSE_CODES.unauthorized,
        );
    }, engine.options.helloTimeoutMs);
    this.#helloTimer.unref?.();
  }

  /** Authenticated and not closed. */
  get open(): boolean {
    return this.#state === 'open';
  }

  /** The room identity of this connection. */
  get user(): string {
    return this.#auth?.userId ?? this.#clientId ?? this.id;
  }

  // ── inbound ──────────────────────────────────────────────────────────────

  #onMessage(data: Buffer, isBinary: boolean) {
    this.#alive = true;
    if (this.#state === 'closed') return;
    if (!this.#take()) return;
    if (this.#state === 'authenticating') {
      // Pipelined after hello: handled once hello is through.
      if (this.#early.length >= MAX_QUEUED_BEFORE_HELLO)
        return this.#sendError(new ValidationError('Too many messages before hello completed.'));
      this.#early.push(data);
      return;
    }
    void this.#handle(data, isBinary);
  }

  async #handle(data: Buffer, isBinary: boolean): Promise<void> {
    let requestId: string | undefined;
    try {
      const { maxBytes, maxDepth } = this.#engine.limits;
      if (data.length > maxBytes)
        throw new PayloadTooLargeError(
          `The message is ${data.length} bytes, over the limit of ${maxBytes}; send smaller messages (split a push into smaller batches, subscribe with smaller queries).`,
        );
      if (isBinary && data.length > 0 && data[0] !== 0x7b /* { */)
        throw new ValidationError('Send text (JSON) messages, not binary.');
      const text = data.toString('utf8');
      const value = parseMessageText(text, { maxBytes, maxDepth }, data.length);
      const rid = (value as { requestId?: unknown } | null)?.requestId;
      if (typeof rid === 'string' && rid.length <= 128) requestId = rid;
      // Lone surrogates and numbers a double cannot hold are refused before anything applies.
      checkExactJson(text, value);
      const msg = decodeLiveClientMessage(value);
      if (this.#state === 'new' && msg.type !== 'hello')
        throw new UnauthorizedError(
          `Send hello (with the token) before ${msg.type}; nothing is served before authentication.`,
        );
      await this.#dispatch(msg);
    } catch (err) {
      const e = toOmniSyncError(err);
      if (e.code === 'internal') this.#engine.log.error({ err, conn: this.id }, 'live message failed');
      if (this.#state === 'new') this.#fail(e, LIVE_CLOSE_CODES.unauthorized);
      else this.#sendError(e, requestId);
    }
  }

  async #dispatch(msg: LiveClientMessage): Promise<void> {
    switch (msg.type) {
      case 'hello':
        return this.#hello(msg);
      case 'ping':
        return this.sendRaw(encode(msg.id === undefined ? { type: 'pong' } : { type: 'pong', id: msg.id }));
      case 'subscribe':
        return this.#subscribe(msg.queryId, msg.query, msg.cursor ?? this.#helloCursor);
      case 'unsubscribe':
        if (!this.#subs.has(msg.queryId))
          throw new NotFoundError(
            `No subscription ${JSON.stringify(msg.queryId)} on this connection; nothing to unsubscribe (check the queryId of the subscribe).`,
            { details: { queryId: msg.queryId } },
          );
        this.#unsubscribe(msg.queryId);
        return;
      case 'push': {
        const res = await this.#engine.push(this.app, this.#auth!, {
          clientId: msg.clientId,
          mutations: msg.mutations,
          ...(msg.schemaVersion !== undefined ? { schemaVersion: msg.schemaVersion } : {}),
        });
        return this.sendRaw(
          encode({ type: 'ack', requestId: msg.requestId, results: res.results, cursor: res.cursor }),
        );
      }
      case 'join': {
        if (!this.#rooms.has(msg.room) && this.#rooms.size >= this.#engine.options.maxSubscriptions)
          throw new ValidationError(`At most ${this.#engine.options.maxSubscriptions} rooms per connection.`);
        // A leave that arrives while the join is being authorized cancels it (messages run concurrently).
        const pending = { left: false };
        this.#joining.set(msg.room, pending);
        let allowed: boolean;
        try {
          allowed = await this.#engine.allowed(this.#auth!, { op: 'join', room: msg.room });
        } finally {
          if (this.#joining.get(msg.room) === pending) this.#joining.delete(msg.room);
        }
        if (!allowed)
          throw new OmniSyncError('forbidden', `You may not join room ${JSON.stringify(msg.room)}.`);
        assertRoomAllowed(this.#engine.rules, principalOf(this.#auth!), msg.room);
        if (this.#state !== 'open' || pending.left) return;
        const rooms = this.#engine.rooms(this.app);
        this.#rooms.add(msg.room);
        rooms.join(msg.room, this.user, this, msg.presence);
        return this.sendRaw(
          encode({ type: 'room', room: msg.room, user: this.user, members: rooms.members(msg.room) }),
        );
      }
      case 'leave': {
        const joining = this.#joining.get(msg.room);
        if (joining) {
          joining.left = true;
          this.#joining.delete(msg.room);
          if (!this.#rooms.has(msg.room)) return;
        }
        if (!this.#rooms.has(msg.room))
          throw new InvalidStateError(
            `Room ${JSON.stringify(msg.room)} was not joined on this connection; nothing to leave.`,
            { details: { room: msg.room } },
          );
        this.#rooms.delete(msg.room);
        this.#engine.rooms(this.app).leave(msg.room, this.user, this);
        return;
      }
      case 'presence':
        this.#member(msg.room);
        this.#engine.rooms(this.app).setPresence(msg.room, this.user, this, msg.state);
        return;
      case 'event':
        this.#member(msg.room);
        assertRoomAllowed(this.#engine.rules, principalOf(this.#auth!), msg.room, msg.name);
        this.#engine
          .rooms(this.app)
          .event(msg.room, this.user, this, msg.name, msg.payload, this.#engine.hlc.now());
        return;
    }
  }

  #member(room: string) {
    if (!this.#rooms.has(room))
      throw new InvalidStateError(`Join room ${JSON.stringify(room)} before sending to it.`);
  }

  async #hello(msg: Extract<LiveClientMessage, { type: 'hello' }>): Promise<void> {
    if (msg.protocolVersion !== undefined && msg.protocolVersion > PROTOCOL_VERSION)
      this.#engine.log.debug(
        { conn: this.id, version: msg.protocolVersion },
        'client speaks a newer protocol',
      );
    const first = this.#state === 'new';
    if (first) this.#state = 'authenticating';
    let auth: AuthContext;
    try {
      auth = await this.#engine.authenticate(this.app, msg.token);
    } catch (err) {
      const e = toOmniSyncError(err);
      this.#fail(e, e.code === 'forbidden' ? LIVE_CLOSE_CODES.forbidden : LIVE_CLOSE_CODES.unauthorized);
      return;
    }
    if (this.#state === 'closed') return;
    this.#auth = auth;
    this.#reads = readFilterOf(this.#engine.rules, principalOf(auth));
    if (msg.clientId !== undefined) this.#clientId = msg.clientId;
    if (msg.cursor !== undefined) this.#helloCursor = msg.cursor;
    if (first && msg.mode) this.#mode = msg.mode;
    this.#armExpiry(auth);
    if (first) {
      clearTimeout(this.#helloTimer);
      this.#state = 'open';
      this.#engine.register(this);
    }
    const cursor = await this.#engine.head(this.app);
    this.sendRaw(
      encode({ type: 'welcome', protocolVersion: PROTOCOL_VERSION, connectionId: this.id, cursor }),
    );
    if (first) for (const data of this.#early.splice(0)) void this.#handle(data, false);
  }

  #armExpiry(auth: AuthContext) {
    clearTimeout(this.#expiryTimer);
    if (auth.expiresAt === undefined) return;
    const ms = Math.min(MAX_TIMER_MS, Math.max(0, auth.expiresAt - Date.now()));
    this.#expiryTimer = setTimeout(
      () =>
        this.#fail(
          new UnauthorizedError('The token expired; reconnect with a fresh token and resume by cursor.'),
          LIVE_CLOSE_CODES.unauthorized,
        ),
      ms,
    );
    this.#expiryTimer.unref?.();
  }

  // ── subscriptions ────────────────────────────────────────────────────────

  #subscribe(queryId: string, query: WireQuery, from: number | undefined) {
    if (!this.#subs.has(queryId) && this.#subs.size >= this.#engine.options.maxSubscriptions)
      throw new ValidationError(
        `At most ${this.#engine.options.maxSubscriptions} subscriptions per connection; unsubscribe some first.`,
      );
    const compiled = compileSyncQuery(query); // a bad query throws query_invalid; nothing changes
    this.#unsubscribe(queryId);
    const sub: Subscription = { conn: this, queryId, wire: query, query: compiled, since: undefined };
    this.#subs.set(queryId, sub);
    let set = this.#byCollection.get(compiled.collection);
    if (!set) this.#byCollection.set(compiled.collection, (set = new Set()));
    set.add(sub);
    this.#engine.subscriptions(this.app).add(sub);
    this.#enqueue(() => this.#catchUp(sub, from));
  }

  #unsubscribe(queryId: string) {
    const sub = this.#subs.get(queryId);
    if (!sub) return;
    this.#subs.delete(queryId);
    this.#engine.subscriptions(this.app).remove(sub);
    const set = this.#byCollection.get(sub.query.collection);
    set?.delete(sub);
    if (set?.size === 0) this.#byCollection.delete(sub.query.collection);
  }

  async #catchUp(sub: Subscription, from: number | undefined): Promise<void> {
    const current = () => this.#state === 'open' && this.#subs.get(sub.queryId) === sub;
    const auth = this.#auth!;
    if (this.#mode === 'poke') {
      const cursor = await this.#engine.head(this.app);
      if (!current()) return;
      sub.since = cursor;
      return this.sendRaw(encode({ type: 'subscribed', queryId: sub.queryId, cursor }));
    }
    if (from !== undefined && from > 0) {
      let cursor = from;
      // A page loads its documents as they are now, so a cell written after the page's end can
      // come again in the page that holds its version: sent once here (doc, field, stamp), so a
      // resumed subscription gets each write once. Kept only while pages follow pages.
      let sent: Map<string, string> | undefined;
      for (;;) {
        const page = await this.#engine.pull(this.app, auth, {
          cursor,
          queries: [sub.wire],
          limit: PULL_LIMIT_DEFAULT,
        });
        if (!current()) return;
        if ('reset' in page) {
          // The hello cursor is compacted away too: a later subscribe without a cursor (the
          // client's answer to this reset) gets a snapshot, not another reset.
          if (this.#helloCursor !== undefined && this.#helloCursor <= from) this.#helloCursor = undefined;
          this.sendRaw(encode({ type: 'reset', queryId: sub.queryId, cursor: page.cursor }));
          break;
        }
        let changes = page.changes;
        if (page.hasMore || sent) {
          const seen = (sent ??= new Map());
          // An evicted document is gone from the client: if it comes back, all of it is sent.
          for (const e of page.evicted ?? []) {
            const prefix = `${e.collection}\u0000${e.id}\u0000`;
            for (const key of seen.keys()) if (key.startsWith(prefix)) seen.delete(key);
          }
          changes = changes.filter((c) => {
            const key = `${c.collection}\u0000${c.id}\u0000${c.field}`;
            if (seen.get(key) === c.hlc) return false;
            seen.set(key, c.hlc);
            return true;
          });
        }
        if (changes.length > 0 || page.evicted)
          await this.#sendCatchUp(sub.queryId, changes, page.cursor, page.evicted);
        cursor = page.cursor;
        if (!page.hasMore) {
          sub.since = cursor;
          return this.sendRaw(encode({ type: 'subscribed', queryId: sub.queryId, cursor }));
        }
      }
    }
    const snap = await this.#engine.snapshot(this.app, auth, { queries: [sub.wire] });
    if (!current()) return;
    for (let i = 0; i < snap.cells.length; i += CATCH_UP_CHUNK_CELLS)
      await this.#sendCatchUp(sub.queryId, snap.cells.slice(i, i + CATCH_UP_CHUNK_CELLS), snap.cursor);
    sub.since = snap.cursor;
    this.sendRaw(encode({ type: 'subscribed', queryId: sub.queryId, cursor: snap.cursor }));
  }

  /** Catch-up sends wait for the socket to drain instead of tripping the slow-consumer limit. */
  async #sendCatchUp(
    queryId: string,
    cells: readonly WireCell[],
    cursor: number,
    evicted?: readonly WireDocKey[],
  ): Promise<void> {
    const limit = this.#engine.options.maxBufferedBytes;
    const deadline = Date.now() + this.#engine.options.slowConsumerGraceMs;
    while (this.#state === 'open' && this.#ws.bufferedAmount > limit / 2) {
      if (Date.now() > deadline) return this.#closeSlow();
      await new Promise((r) => setTimeout(r, 5));
    }
    if (this.#state !== 'open') return;
    this.#ws.send(
      encode(
        evicted
          ? { type: 'changes', queryId, cells, cursor, evicted }
          : { type: 'changes', queryId, cells, cursor },
      ),
      TEXT_FRAME,
    );
  }

  // ── live fan-out ─────────────────────────────────────────────────────────

  /**
   * Called by the hub after each commit, in commit order, for the connections the commit
   * may concern: `indices` are the events the subscription index found for this one.
   * `cache` is shared by all connections of this commit.
   */
  publish(
    events: readonly DocChangeEvent[],
    indices: readonly number[],
    cursor: number,
    cache: Map<string, PreparedMessage>,
  ): void {
    if (this.#state !== 'open' || this.#subs.size === 0) return;
    if (this.#queue) return this.#enqueue(() => this.#deliver(events, indices, cursor, cache));
    // The common case, nothing queued: deliver now, without a task or a promise.
    let pending: void | Promise<void>;
    try {
      pending = this.#deliver(events, indices, cursor, cache);
    } catch (err) {
      pending = Promise.reject(err);
    }
    if (pending) this.#enqueue(() => pending);
  }

  #deliver(
    events: readonly DocChangeEvent[],
    indices: readonly number[],
    cursor: number,
    cache: Map<string, PreparedMessage>,
  ): void | Promise<void> {
    const reads = this.#reads;
    if (reads) return this.#deliverRuled(reads, events, indices, cursor, cache);
    const picks: Pick[] = [];
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      const ev = events[i]!;
      const subs = this.#byCollection.get(ev.collection);
      if (!subs) continue;
      let before = false;
      let after = false;
      for (const sub of subs) {
        if (sub.since === undefined || cursor <= sub.since) continue;
        before ||= matchesQuery(sub.query, ev.before);
        after ||= matchesQuery(sub.query, ev.after);
        if (before && after) break;
      }
      if (before || after) picks.push({ index: i, event: ev, entering: after && !before });
      else if (
        ev.after === undefined &&
        isTombstone(ev) &&
        [...subs].some((s) => s.since !== undefined && cursor > s.since)
      )
        // As pull does: a deletion reaches every subscriber of the collection (cell only, no data),
        // since a client may hold the document through its own writes that no query matched.
        picks.push({ index: i, event: ev, entering: false });
    }
    return this.#authorizePicks(picks, cursor, cache);
  }

  /**
   * {@link #deliver} with rules: each subscription is tested on the masked views of the
   * document before and after (undefined where the read rule does not admit it). Visible
   * after: its changes, or all of it when it was not visible before. Visible before only:
   * still readable (out of the query) or deleted → the change, as without rules; no longer
   * readable → evicted. A deletion of a document no subscription matched reaches the
   * connection only when the principal could read it.
   */
  #deliverRuled(
    reads: ReadFilter,
    events: readonly DocChangeEvent[],
    indices: readonly number[],
    cursor: number,
    cache: Map<string, PreparedMessage>,
  ): void | Promise<void> {
    const picks: Pick[] = [];
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      const ev = events[i]!;
      const subs = this.#byCollection.get(ev.collection);
      if (!subs) continue;
      const rb = reads.canRead(ev.collection, ev.before);
      const ra = reads.canRead(ev.collection, ev.after);
      if (!rb && !ra) continue;
      // The masked views only for filtered subscriptions (a whole-collection one needs none).
      let vb: Doc | null = null;
      let va: Doc | null = null;
      let before = false;
      let after = false;
      let live = false;
      for (const sub of subs) {
        if (sub.since === undefined || cursor <= sub.since) continue;
        live = true;
        if (sub.query.whole) {
          before ||= rb;
          after ||= ra;
        } else {
          if (vb === null) vb = rb ? reads.view(ev.collection, ev.before) : undefined;
          if (va === null) va = ra ? reads.view(ev.collection, ev.after) : undefined;
          before ||= matchesQuery(sub.query, vb);
          after ||= matchesQuery(sub.query, va);
        }
        if (before && after) break;
      }
      if (after) picks.push({ index: i, event: ev, entering: !before });
      else if (before || (live && rb && ev.after === undefined && isTombstone(ev)))
        picks.push(
          ra || ev.after === undefined
            ? { index: i, event: ev, entering: false }
            : { index: i, event: ev, entering: false, evict: true },
        );
    }
    return this.#authorizePicks(picks, cursor, cache);
  }

  #authorizePicks(picks: Pick[], cursor: number, cache: Map<string, PreparedMessage>): void | Promise<void> {
    if (picks.length === 0) return;
    if (!this.#engine.authorizes) return this.#sendLive(picks, cursor, cache);
    // Evictions carry no data: the hook is asked about documents sent.
    const checks = picks.map((p) =>
      p.evict
        ? true
        : this.#engine.allowed(this.#auth!, { op: 'read', collection: p.event.collection, id: p.event.id }),
    );
    if (checks.some((c) => c instanceof Promise))
      return Promise.all(checks).then((ok) =>
        this.#sendLive(
          picks.filter((_, i) => ok[i]),
          cursor,
          cache,
        ),
      );
    this.#sendLive(
      picks.filter((_, i) => checks[i]),
      cursor,
      cache,
    );
  }

  #sendLive(picks: Pick[], cursor: number, cache: Map<string, PreparedMessage>): void {
    if (picks.length === 0) return;
    const reads = this.#reads;
    // With a read mask, a change may carry nothing this principal may see: no message, no poke.
    if (reads)
      picks = picks.filter(
        (p) =>
          p.evict || reads.cells(p.event.collection, p.entering ? p.event.all : p.event.changed).length > 0,
      );
    if (picks.length === 0) return;
    let key = 'poke';
    if (this.#mode !== 'poke') {
      key = '';
      for (const p of picks) {
        key += (p.evict ? 'e' : p.entering ? 'a' : 'c') + p.index;
        // Masks differ between principals: the message is shared by those with the same one.
        if (reads && !p.evict) key += `[${reads.maskKey(p.event.collection)}]`;
      }
    }
    let message = cache.get(key);
    if (!message) {
      if (this.#mode === 'poke') message = prepareMessage(encode({ type: 'poke', cursor }));
      else {
        const cells: Cell[] = [];
        const evicted: WireDocKey[] = [];
        for (const p of picks) {
          if (p.evict) {
            evicted.push({ collection: p.event.collection, id: p.event.id });
            continue;
          }
          const sent = p.entering ? p.event.all : p.event.changed;
          for (const c of reads ? reads.cells(p.event.collection, sent) : sent) cells.push(c);
        }
        message = prepareMessage(
          encode(
            evicted.length > 0
              ? { type: 'changes', cells, cursor, evicted }
              : { type: 'changes', cells, cursor },
          ),
        );
      }
      cache.set(key, message);
    }
    if (this.#state === 'closed' || this.#ws.readyState !== this.#ws.OPEN) return;
    sendPrepared(this.#ws, message);
    if (this.#ws.bufferedAmount > this.#engine.options.maxBufferedBytes) this.#closeSlow();
  }

  #enqueue(task: () => void | Promise<void>): void {
    const run = (): Promise<void> | undefined => {
      try {
        const r = task();
        return r instanceof Promise ? r : undefined;
      } catch (err) {
        return Promise.reject(err);
      }
    };
    const p = this.#queue ? this.#queue.then(() => run()) : run();
    if (!p) return;
    const next: Promise<void> = p
      .catch((err) => {
        const e = toOmniSyncError(err);
        if (e.code === 'internal' || e.code === 'storage_failed')
          this.#engine.log.error({ err, conn: this.id }, 'live delivery failed');
        this.#sendError(e);
      })
      .then(() => {
        if (this.#queue === next) this.#queue = undefined;
      });
    this.#queue = next;
  }

  /**
   * Token bucket: false (and at most one `rate_limited` error per second, with the wait) when
   * over the rate. Dropped messages drain a second bucket of ten bursts refilling at the same
   * rate: a connection that empties it (it keeps sending at over twice its rate) is flooding
   * and is closed with 4029.
   */
  #take(): boolean {
    const bucket = this.#bucket;
    if (!bucket) return true;
    const now = this.#engine.options.clock.now();
    const wait = bucket.take(now);
    if (wait === 0) return true;
    const { perSecond, burst } = bucket.limit;
    this.#strikes ??= new TokenBucket({ perSecond, burst: burst * LIVE_FLOOD_BURSTS }, now);
    if (this.#strikes.take(now) > 0) {
      this.#engine.log.warn({ conn: this.id, app: this.app }, 'message flood: connection closed');
      this.#fail(
        new RateLimitedError(
          `Far over ${perSecond} messages per second for too long: closing (4029). Reconnect later with backoff, and send fewer messages (batch mutations into fewer pushes).`,
          { details: { perSecond, burst } },
        ),
        LIVE_CLOSE_CODES.rateLimited,
      );
      return false;
    }
    if (now - this.#limitedAt >= 1000) {
      this.#limitedAt = now;
      this.#sendError(
        new RateLimitedError(
          `Over ${perSecond} messages per second: messages are being dropped. Retry after ${wait} ms; slow down (batch mutations into fewer pushes).`,
          { details: { retryAfterMs: wait, perSecond, burst } },
        ),
      );
    }
    return false;
  }

  // ── outbound and lifecycle ───────────────────────────────────────────────

  /** Send an encoded message; a consumer whose buffer overflows is closed with 4008. */
  sendRaw(buf: Buffer): void {
    if (this.#state === 'closed' || this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.send(buf, TEXT_FRAME);
    if (this.#ws.bufferedAmount > this.#engine.options.maxBufferedBytes) this.#closeSlow();
  }

  #sendError(err: OmniSyncError, requestId?: string) {
    const wire = toWireError(err);
    this.sendRaw(
      encode(requestId === undefined ? { type: 'error', ...wire } : { type: 'error', requestId, ...wire }),
    );
  }

  #closeSlow() {
    if (this.#state === 'closed') return;
    this.#engine.log.warn(
      { conn: this.id, app: this.app, buffered: this.#ws.bufferedAmount },
      'slow consumer closed',
    );
    this.#engine.metrics.slowConsumerClosed();
    this.close(LIVE_CLOSE_CODES.slowConsumer, 'slow consumer, resume by cursor');
    const t = setTimeout(() => this.#ws.terminate(), this.#engine.options.slowConsumerGraceMs);
    t.unref?.();
  }

  /** Send an error, then close with `code`. */
  #fail(err: OmniSyncError, code: number) {
    if (this.#state === 'closed') return;
    this.#sendError(err);
    this.close(code, err.code);
  }

  /** Close (the client sees `code`); stops all delivery at once. */
  close(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    this.#cleanup();
    this.#ws.close(code, reason.slice(0, 120));
  }

  /** Heartbeat tick: a connection that did not answer the previous ping is dropped. */
  heartbeat(): void {
    if (this.#state === 'closed') return;
    if (!this.#alive) {
      // Our own data ahead of the ping is why no pong came: a slow reader, not a dead one.
      if (this.#ws.bufferedAmount > 0) return this.#closeSlow();
      this.#engine.log.info({ conn: this.id, app: this.app }, 'dead connection dropped');
      this.#cleanup();
      this.#ws.terminate();
      return;
    }
    this.#alive = false;
    this.#ws.ping();
  }

  /** Drop the socket without a handshake. */
  terminate(): void {
    this.#cleanup();
    this.#ws.terminate();
  }

  /** Resolves once the socket is closed. */
  closed(): Promise<void> {
    if (this.#ws.readyState === this.#ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.#ws.once('close', () => resolve()));
  }

  #cleanup() {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#helloTimer);
    clearTimeout(this.#expiryTimer);
    const index = this.#subs.size > 0 ? this.#engine.subscriptions(this.app) : undefined;
    for (const sub of this.#subs.values()) index!.remove(sub);
    this.#subs.clear();
    this.#byCollection.clear();
    if (this.#rooms.size > 0) {
      const rooms = this.#engine.rooms(this.app);
      for (const room of this.#rooms) rooms.leave(room, this.user, this);
      this.#rooms.clear();
    }
    this.#engine.unregister(this);
  }
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  return Buffer.from(data as ArrayBuffer);
}
