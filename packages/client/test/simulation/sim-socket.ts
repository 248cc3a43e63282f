/**
 * WebSockets for the simulation: a client end (the `WebSocketLike` the live session uses)
 * and a server end (the subset of a `ws` socket the server's live engine uses), joined by a
 * link on the seeded network. Like TCP, a link delivers in order or not at all: a partition,
 * a server restart or a crashed client breaks it (both ends see it close, code 1006, at the
 * next delivery), and a connect across a partition or to a stopped server fails.
 */
import { EventEmitter } from 'node:events';
import type { ManualScheduler, Random } from '@omnisync/core';
import type { WebSocketConstructor, WebSocketLike } from '../../src/transport/types.js';
import type { SimNetwork } from './sim-network.js';

/** The server side the sockets connect to. */
export interface SocketServer {
  /** Of the server instance `client` talks to; bumped on its every restart: a link made before it is dead. */
  generationOf(client: number): number;
  accept(app: string, ws: ServerEnd, client: number): void;
}

const OPEN = 1;
const CLOSED = 3;

/** The server's end: what `LiveConnection` calls on a `ws` WebSocket. */
export class ServerEnd extends EventEmitter {
  readonly OPEN = OPEN;
  readonly CLOSED = CLOSED;
  readyState = OPEN;
  bufferedAmount = 0;
  readonly #link: Link;

  constructor(link: Link) {
    super();
    this.#link = link;
  }

  send(data: Buffer | string): void {
    if (this.readyState === OPEN) this.#link.toClient(String(data));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === CLOSED) return;
    this.#link.serverClosed(code, reason);
  }

  terminate(): void {
    this.close(1006, '');
  }

  ping(): void {
    this.#link.ping();
  }

  /** @internal Closed: the server sees `close` at once (its shutdown waits for it). */
  closed(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    queueMicrotask(() => this.emit('close', 1006, Buffer.alloc(0)));
  }
}

/** One connection between a client end and a server end. */
class Link {
  broken = false;
  server: ServerEnd | undefined;
  #toClientAt = 0;
  #toServerAt = 0;

  constructor(
    readonly client: ClientEnd,
    readonly net: SockNet,
    readonly generation: number,
  ) {}

  #cut(): boolean {
    const n = this.net;
    return (
      n.network.partitioned[this.client.index] ||
      !n.network.serverUp ||
      !this.client.alive() ||
      n.server.generationOf(this.client.index) !== this.generation
    );
  }

  #schedule(dir: 'c' | 's', fn: () => void): void {
    const now = this.net.scheduler.now();
    const at = Math.max(dir === 'c' ? this.#toClientAt : this.#toServerAt, now + this.net.delay());
    if (dir === 'c') this.#toClientAt = at;
    else this.#toServerAt = at;
    this.net.scheduler.setTimeout(() => {
      if (this.broken) return;
      if (this.#cut()) return this.break();
      fn();
    }, at - now);
  }

  toClient(text: string): void {
    this.#schedule('c', () => this.client.deliver(text));
  }

  toServer(text: string): void {
    this.#schedule('s', () => this.server?.emit('message', Buffer.from(text), false));
  }

  ping(): void {
    this.#schedule('c', () => this.#schedule('s', () => this.server?.emit('pong')));
  }

  /** The server closed: the client sees the close after the messages before it. */
  serverClosed(code: number, reason: string): void {
    this.server?.closed();
    this.#schedule('c', () => {
      this.broken = true;
      this.client.closed(code, reason);
    });
  }

  /** The client closed: the server sees it at once (nothing more is delivered either way). */
  clientClosed(): void {
    this.broken = true;
    this.server?.closed();
  }

  /** Connection reset: both ends close with 1006. */
  break(): void {
    if (this.broken) return;
    this.broken = true;
    this.net.stats.resets++;
    this.server?.closed();
    this.net.scheduler.setTimeout(() => this.client.closed(1006, 'connection reset'), this.net.delay());
  }
}

/** Counters (a live run that never carried a change proves little). */
export interface SocketStats {
  connects: number;
  liveChanges: number;
  resets: number;
}

/** What the client ends share. */
interface SockNet {
  trace?: ((client: number, dir: string, text: string) => void) | undefined;
  readonly stats: SocketStats;
  readonly scheduler: ManualScheduler;
  readonly network: SimNetwork;
  readonly server: SocketServer;
  delay(): number;
}

/** The client's end: the `WebSocketLike` the live session drives. */
class ClientEnd implements WebSocketLike {
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  #link: Link | undefined;

  constructor(
    url: string,
    readonly index: number,
    readonly alive: () => boolean,
    readonly net: SockNet,
  ) {
    const app = decodeURIComponent(/\/v1\/apps\/([^/]+)\/live$/.exec(url)?.[1] ?? '');
    net.scheduler.setTimeout(() => {
      if (this.readyState !== 0) return;
      const n = net.network;
      if (n.partitioned[index] || !n.serverUp || !alive()) {
        this.readyState = CLOSED;
        this.onerror?.({});
        this.onclose?.({ code: 1006, reason: 'connect failed' });
        return;
      }
      const link = new Link(this, net, net.server.generationOf(index));
      link.server = new ServerEnd(link);
      this.#link = link;
      net.stats.connects++;
      net.server.accept(app, link.server, index);
      this.readyState = OPEN;
      this.onopen?.({});
    }, net.delay());
  }

  send(data: string): void {
    this.net.trace?.(this.index, '=>', data);
    if (this.readyState === OPEN) this.#link?.toServer(data);
  }

  close(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.#link?.clientClosed();
  }

  deliver(text: string): void {
    if (this.readyState !== OPEN) return;
    if (text.startsWith('{"type":"changes","cells"')) this.net.stats.liveChanges++;
    this.net.trace?.(this.index, '<=', text);
    this.onmessage?.({ data: text });
  }

  closed(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.net.trace?.(this.index, 'closed', `${code} ${reason}`);
    this.readyState = CLOSED;
    this.onclose?.({ code, reason });
  }
}

/** WebSocket constructors for the clients of one simulated world. */
export class SimSockets {
  readonly #net: SockNet;
  /** Print every message (replays). */
  set trace(fn: ((client: number, dir: string, text: string) => void) | undefined) {
    this.#net.trace = fn;
  }
  readonly stats: SocketStats = { connects: 0, liveChanges: 0, resets: 0 };

  constructor(scheduler: ManualScheduler, network: SimNetwork, server: SocketServer, random: Random) {
    this.#net = {
      stats: this.stats,
      scheduler,
      network,
      server,
      delay: () => Math.floor(random() * (network.faults.maxDelayMs + 1)),
    };
  }

  /** The WebSocket constructor of one client process. */
  constructorFor(index: number, alive: () => boolean): WebSocketConstructor {
    const net = this.#net;
    return class extends ClientEnd {
      constructor(url: string) {
        super(url, index, alive, net);
      }
    };
  }
}
