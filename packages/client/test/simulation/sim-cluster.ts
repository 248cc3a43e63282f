/**
 * The simulated servers: one, or two instances sharing one Postgres schema (as two server
 * processes behind a load balancer would), each client always talking to the same one
 * (client i to instance i mod n). The instances hear each other's commits the way the real
 * servers do: the storage's commit notifications (Postgres LISTEN/NOTIFY) feed each one's
 * commit feed, which sends its live clients the other's commits. One ledger counts what every
 * committed write transaction of either applied.
 */
import type { Cell } from '@omnisync/core';
import { type ApplyLedger, emptyLedger, SimServer, type SimStorage } from './sim-server.js';

/** What the network and the sockets connect to. */
export class SimCluster {
  readonly ledger: ApplyLedger = emptyLedger();
  readonly servers: SimServer[];

  constructor(storage: SimStorage, count: 1 | 2) {
    if (count === 2 && storage.kind !== 'postgres')
      throw new Error('two servers need a shared storage: use --storage postgres');
    this.servers = Array.from(
      { length: count },
      (_, i) => new SimServer(storage, this.ledger, count === 1 ? 'srv' : `srv${i}`),
    );
  }

  /** The instance client `client` talks to. */
  serverOf(client: number): SimServer {
    return this.servers[client % this.servers.length]!;
  }

  fetch(request: Request, client = 0): Promise<Response> {
    return this.serverOf(client).fetch(request);
  }

  accept(app: string, ws: unknown, client = 0): void {
    this.serverOf(client).accept(app, ws);
  }

  /** The generation of the instance `client` talks to (its sockets die when that one restarts). */
  generationOf(client: number): number {
    return this.serverOf(client).generation;
  }

  /** Restart one instance (`which`), or all. */
  async restart(which?: number): Promise<void> {
    for (const [i, s] of this.servers.entries()) if (which === undefined || which === i) await s.restart();
  }

  get horizon(): number {
    return this.servers[0]!.horizon;
  }
  get gcRuns(): number {
    return this.servers[0]!.gcRuns;
  }
  get snapshots(): number {
    return this.servers.reduce((n, s) => n + s.snapshots, 0);
  }
  get restarts(): number {
    return this.servers.reduce((n, s) => n + s.restarts, 0);
  }

  gc(app: string, olderThanVersion: number): Promise<void> {
    return this.servers[0]!.gc(app, olderThanVersion);
  }
  liveCells(app: string): Promise<Cell[]> {
    return this.servers[0]!.liveCells(app);
  }
  allCells(app: string): Promise<Cell[]> {
    return this.servers[0]!.allCells(app);
  }
  head(app: string): Promise<number> {
    return this.servers[0]!.head(app);
  }

  async close(): Promise<void> {
    for (const s of this.servers) await s.close();
  }
}
