/**
 * Multi-row INSERT for better-sqlite3: one statement per chunk of rows instead of one per
 * row. Each statement call has a fixed cost (bind, step, reset across the native boundary)
 * that dominates small rows; a push writes thousands of them.
 */
import type Database from 'better-sqlite3';

/** Rows per statement: 64 rows × up to 7 columns stays far below SQLite's parameter limit. */
const CHUNK_ROWS = 64;

/** Inserts rows given as one flat parameter array. */
export class BulkInsert {
  readonly #db: Database.Database;
  readonly #head: string;
  readonly #tail: string;
  readonly #cols: number;
  readonly #row: string;
  readonly #statements = new Map<number, Database.Statement<unknown[]>>();

  /** `head` is `INSERT INTO t (a, b)`; `tail` follows the VALUES list (e.g. an ON CONFLICT clause). */
  constructor(db: Database.Database, head: string, cols: number, tail = '') {
    if (cols < 3 || cols > 7) throw new RangeError(`BulkInsert supports 3 to 7 columns, got ${cols}.`);
    this.#db = db;
    this.#head = head;
    this.#tail = tail;
    this.#cols = cols;
    this.#row = `(${Array.from({ length: cols }, () => '?').join(', ')})`;
  }

  #statement(rows: number): Database.Statement<unknown[]> {
    let s = this.#statements.get(rows);
    if (!s) {
      s = this.#db.prepare<unknown[]>(
        `${this.#head} VALUES ${Array.from({ length: rows }, () => this.#row).join(', ')} ${this.#tail}`,
      );
      this.#statements.set(rows, s);
    }
    return s;
  }

  /** Insert `params.length / cols` rows. */
  run(params: unknown[]): void {
    const rows = params.length / this.#cols;
    for (let start = 0; start < rows; start += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, rows - start);
      const chunk =
        start === 0 && n === rows ? params : params.slice(start * this.#cols, (start + n) * this.#cols);
      this.#statement(n).run(chunk);
    }
  }

  /** Start collecting rows to insert with {@link RowSink.add}; `flush` writes the rest. */
  sink(): RowSink {
    const cols = this.#cols;
    const full = CHUNK_ROWS * cols;
    // One parameter array, filled in place and bound as it is (better-sqlite3 flattens an array argument).
    const chunk: unknown[] = new Array<unknown>(full);
    let n = 0;
    const write = () => {
      this.#statement(n / cols).run(n === full ? chunk : chunk.slice(0, n));
      n = 0;
    };
    return {
      // Positional parameters, not a rest array: no allocation per row.
      add: (v0, v1, v2, v3, v4, v5, v6) => {
        chunk[n] = v0;
        chunk[n + 1] = v1;
        chunk[n + 2] = v2;
        if (cols > 3) chunk[n + 3] = v3;
        if (cols > 4) chunk[n + 4] = v4;
        if (cols > 5) chunk[n + 5] = v5;
        if (cols > 6) chunk[n + 6] = v6;
        n += cols;
        if (n === full) write();
      },
      flush: () => {
        if (n > 0) write();
      },
    };
  }
}

/** Rows added one at a time, written a chunk at a time. */
export interface RowSink {
  add(v0: unknown, v1: unknown, v2?: unknown, v3?: unknown, v4?: unknown, v5?: unknown, v6?: unknown): void;
  flush(): void;
}

/**
 * Multi-row INSERT where some columns hold one value for all the rows of a sink (a push's
 * client id and version): those are bound once per statement, not once per row.
 */
export class SharedBulkInsert {
  readonly #db: Database.Database;
  readonly #head: string;
  readonly #select: string;
  readonly #shared: number;
  readonly #cols: number;
  readonly #row: string;
  readonly #statements = new Map<number, Database.Statement<unknown[]>>();

  /**
   * `head` is `INSERT INTO t (a, b, c)`; `select` gives each inserted column in order: `?` for
   * a shared value (`shared` of them), `columnN` for the row's N-th value (`cols` per row).
   */
  constructor(db: Database.Database, head: string, select: string, shared: number, cols: number) {
    this.#db = db;
    this.#head = head;
    this.#select = select;
    this.#shared = shared;
    this.#cols = cols;
    this.#row = `(${Array.from({ length: cols }, () => '?').join(', ')})`;
  }

  #statement(rows: number): Database.Statement<unknown[]> {
    let s = this.#statements.get(rows);
    if (!s) {
      s = this.#db.prepare<unknown[]>(
        `${this.#head} SELECT ${this.#select} FROM (VALUES ${Array.from({ length: rows }, () => this.#row).join(', ')})`,
      );
      this.#statements.set(rows, s);
    }
    return s;
  }

  /** Start collecting rows (of 2 or 3 values) that all share `shared` values. */
  sink(...shared: unknown[]): RowSink {
    const first = this.#shared;
    if (shared.length !== first)
      throw new RangeError(`Expected ${first} shared values, got ${shared.length}.`);
    const cols = this.#cols;
    const rowsMax = CHUNK_ROWS * 2; // a power of two
    const full = first + rowsMax * cols;
    // Shared values first: they come before the VALUES list in the statement's text.
    const chunk: unknown[] = new Array<unknown>(full);
    for (let i = 0; i < first; i++) chunk[i] = shared[i];
    let n = first;
    const write = () => {
      if (n === full) this.#statement(rowsMax).run(chunk);
      else {
        // A partial chunk in power-of-two pieces: at most 8 statements are ever prepared.
        let at = first;
        for (let size = rowsMax >> 1; size >= 1; size >>= 1) {
          if (at + size * cols > n) continue;
          const piece = chunk.slice(at - first, at + size * cols);
          for (let i = 0; i < first; i++) piece[i] = shared[i];
          this.#statement(size).run(piece);
          at += size * cols;
        }
      }
      n = first;
    };
    return {
      add: (v0, v1, v2) => {
        chunk[n] = v0;
        chunk[n + 1] = v1;
        if (cols > 2) chunk[n + 2] = v2;
        n += cols;
        if (n === full) write();
      },
      flush: () => {
        if (n > first) write();
      },
    };
  }
}
