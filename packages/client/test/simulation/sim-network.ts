/**
 * The simulation's network: every client's `fetch` goes through here to the server's Fetch
 * handler, called directly in this process. Seeded and driven by the manual scheduler, it
 * loses requests before they reach the server and responses after the server committed,
 * duplicates and delays (hence reorders) requests, partitions clients from the server, and
 * refuses connections while the server is down.
 *
 * Requests reach the handler one at a time, in arrival order, each finished before the
 * next: the server's answers then depend only on the seed, never on real I/O timing.
 */
import type { ManualScheduler, Random } from '@omnisync/core';
import type { FetchLike, FetchResponseLike } from '../../src/transport/types.js';

/** Fault rates of one run. */
export interface NetworkFaults {
  /** Chance a request is lost before the server sees it. */
  readonly dropRequest: number;
  /** Chance a response is lost after the server handled (and committed) the request. */
  readonly dropResponse: number;
  /** Chance a request reaches the server twice. */
  readonly duplicate: number;
  /** Largest one-way delay, ms (uniform from 0). */
  readonly maxDelayMs: number;
}

/** A perfect network (used to heal at the end). */
export const HEALED: NetworkFaults = { dropRequest: 0, dropResponse: 0, duplicate: 0, maxDelayMs: 5 };

/** What the network is connected to: anything with a Fetch-API `fetch`. */
export interface SimServer {
  /** `client`: who sends it (with two server instances, each client talks to its own). */
  fetch(request: Request, client: number): Promise<Response>;
}

/** Counters, for the test's own sanity (a run that never dropped anything proves little). */
export interface NetworkStats {
  sent: number;
  droppedRequests: number;
  droppedResponses: number;
  duplicated: number;
  refused: number;
  partitionLost: number;
  /** Pushes answered by a crash after the commit (see {@link SimNetwork.crashAfterPush}). */
  crashedAfterCommit: number;
}

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The seeded in-memory network between the clients and one server. */
export class SimNetwork {
  faults: NetworkFaults;
  /** Per client: cut off from the server (both directions). */
  readonly partitioned: boolean[];
  /** The server process is up (otherwise connections are refused). */
  serverUp = true;
  /**
   * Chance a push that reached the server makes it crash after its commit, before the answer
   * left: the answer is lost and that server instance restarts on its data (`crash` does it).
   */
  crashAfterPush = 0;
  /** Restart the instance `client` talks to (set by the world). */
  crash: ((client: number) => Promise<void>) | undefined;
  /** Draws for `crashAfterPush` (apart from the fault draws, so older seeds replay unchanged). */
  crashRandom: Random = () => 1;
  server: SimServer;
  readonly stats: NetworkStats = {
    sent: 0,
    droppedRequests: 0,
    droppedResponses: 0,
    duplicated: 0,
    refused: 0,
    partitionLost: 0,
    crashedAfterCommit: 0,
  };
  readonly #scheduler: ManualScheduler;
  readonly #random: Random;
  readonly #queue: (() => Promise<void>)[] = [];
  /** Called with every request the server handled and its answer (replays print these). */
  trace:
    | ((
        client: number,
        url: string,
        body: string,
        status: number,
        answer: string,
        delivered: boolean,
      ) => void)
    | undefined;

  constructor(
    scheduler: ManualScheduler,
    random: Random,
    server: SimServer,
    clients: number,
    faults: NetworkFaults,
  ) {
    this.#scheduler = scheduler;
    this.#random = random;
    this.server = server;
    this.faults = faults;
    this.partitioned = Array.from({ length: clients }, () => false);
  }

  #delay(): number {
    return Math.floor(this.#random() * (this.faults.maxDelayMs + 1));
  }

  /**
   * The `fetch` of one client process. `alive` turns false when that process crashes: its
   * requests and their answers vanish.
   */
  fetchFor(client: number, alive: () => boolean): FetchLike {
    return (url, init) =>
      new Promise<FetchResponseLike>((resolve, reject) => {
        if (!alive()) return;
        this.stats.sent++;
        if (this.partitioned[client]) {
          this.stats.partitionLost++;
          // A partition either refuses at once or swallows the packet (the client times out).
          if (this.#random() < 0.5)
            this.#scheduler.setTimeout(
              () => reject(new TypeError('fetch failed: ENETUNREACH (simulated partition)')),
              this.#delay(),
            );
          return;
        }
        if (this.#random() < this.faults.dropRequest) {
          this.stats.droppedRequests++;
          return;
        }
        const copies = this.#random() < this.faults.duplicate ? 2 : 1;
        if (copies === 2) this.stats.duplicated++;
        for (let k = 0; k < copies; k++) {
          const answer = k === 0 ? { resolve, reject } : undefined;
          this.#scheduler.setTimeout(
            () => this.#arrive(client, url, init.body as string, init.headers, alive, answer),
            this.#delay(),
          );
        }
      });
  }

  #arrive(
    client: number,
    url: string,
    body: string,
    headers: Record<string, string>,
    alive: () => boolean,
    answer: { resolve: (r: FetchResponseLike) => void; reject: (e: Error) => void } | undefined,
  ): void {
    if (this.partitioned[client]) {
      this.stats.partitionLost++;
      return;
    }
    if (!this.serverUp) {
      this.stats.refused++;
      if (answer)
        this.#scheduler.setTimeout(
          () => answer.reject(new TypeError('fetch failed: ECONNREFUSED (server down)')),
          this.#delay(),
        );
      return;
    }
    const server = this.server;
    this.#queue.push(async () => {
      const res = await server.fetch(new Request(url, { method: 'POST', headers, body }), client);
      const text = await res.text();
      if (this.crashAfterPush > 0 && url.endsWith('/push') && this.crashRandom() < this.crashAfterPush) {
        this.stats.crashedAfterCommit++;
        this.trace?.(client, url, body, res.status, text, false);
        await this.crash?.(client);
        return; // the process died with the answer
      }
      if (!answer) {
        this.trace?.(client, url, body, res.status, text, false);
        return; // the duplicate's answer goes nowhere
      }
      if (this.#random() < this.faults.dropResponse) {
        this.stats.droppedResponses++;
        this.trace?.(client, url, body, res.status, text, false);
        return;
      }
      this.trace?.(client, url, body, res.status, text, true);
      const status = res.status;
      this.#scheduler.setTimeout(() => {
        if (this.partitioned[client] || !alive()) {
          this.stats.partitionLost++;
          return;
        }
        answer.resolve({ status, ok: status >= 200 && status < 300, text: async () => text });
      }, this.#delay());
    });
  }

  /** Run every request that reached the server, one at a time, and let all promise work finish. */
  async settle(): Promise<void> {
    for (;;) {
      await immediate();
      const job = this.#queue.shift();
      if (!job) return;
      await job();
    }
  }
}
