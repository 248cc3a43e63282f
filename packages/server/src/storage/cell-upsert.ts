/**
 * Upserting a batch's cells into `triples` with what a document's cells share bound once.
 *
 * Binding a string parameter is the dearest part of an insert from JavaScript (better-sqlite3
 * converts it to UTF-8 and SQLite copies it), and a document's cells repeat four of their
 * seven columns: collection, id, HLC (one stamp per write) and version. So a run of documents
 * with the same number of cells n, all of one document and one HLC each, is written by one statement per
 * `docsPerStatement(n)` documents that binds those four once per document and only field,
 * value and type per cell:
 *
 *     INSERT INTO triples (…) SELECT d.column1, d.column2, c.column1, c.column2, c.column3, d.column3, d.column4
 *       FROM (VALUES (?, ?, ?, ?)) AS d, (VALUES (?, ?, ?), … n) AS c
 *     UNION ALL SELECT … (one per document) WHERE true ON CONFLICT … DO UPDATE …
 *
 * A six-cell document binds 22 parameters (15 strings) instead of 42 (30 strings). When the
 * run's documents also have the same fields (the usual batch: documents of one shape), the
 * field names are literals in the statement (`('title', ?, ?)`): 16 parameters, 9 strings.
 * Anything else (mixed stamps, one cell, very wide documents, the tail of a run) goes
 * through the multi-row row sink. Rows are written in the order they were added, whichever way.
 */
import type Database from 'better-sqlite3';
import { type Cell, type CellValue, objectTypeOf } from '@omnisync/core';
import type { RowSink } from './bulk-insert.js';
import type { DocWrite } from './storage.js';

/** Documents of fewer cells gain nothing (a one-cell document binds 7 parameters either way). */
const MIN_CELLS = 2;
/** Wider documents take the row path (one statement per document would be large). */
const MAX_CELLS = 32;
/** About this many parameters per statement. */
const STATEMENT_PARAMS = 512;

/** Documents per statement for documents of `n` cells. */
const docsPerStatement = (n: number) => Math.max(1, Math.min(32, Math.floor(STATEMENT_PARAMS / (4 + 3 * n))));

/** Characters JSON.stringify escapes in a string: quote, backslash, controls, surrogates (lone ones). */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * A cell value as stored: JSON text, NULL = unset. Booleans, null, numbers and plain strings
 * without a JSON.stringify call each (a push writes thousands of cells); valid numbers are
 * finite, and String() of a finite number is its JSON text; a string with nothing to escape
 * is itself in quotes.
 */
export const encodeCell = (v: CellValue): string | null => {
  switch (typeof v) {
    case 'string':
      return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return String(v);
    case 'undefined':
      return null;
    default:
      return v === null ? 'null' : JSON.stringify(v);
  }
};

/** A prepared run statement and its reused parameter array. */
interface RunStatement {
  run(params: unknown[]): unknown;
  readonly params: unknown[];
}

/**
 * Field paths written into a statement's text as literals: plain names only (no quote, no
 * comma, nothing SQLite's tokenizer could read otherwise). Others are bound.
 */
const LITERAL_FIELD = /^[A-Za-z0-9_$.[\]-]{1,128}$/;
/** At most this many field lists get a statement of their own per storage. */
const LITERAL_STATEMENTS_MAX = 16;

/**
 * The statements (prepared on first use): per cell count n with fields bound, and per list of
 * fields with the field names in the statement (the usual batch writes documents of one shape).
 */
export class CellUpsert {
  readonly #db: Database.Database;
  readonly #tail: string;
  readonly #byCount = new Map<number, RunStatement>();
  readonly #byFields = new Map<string, RunStatement>();
  readonly #literalFields = new Set<string>();

  /** `tail` follows the SELECTs (the ON CONFLICT clause). */
  constructor(db: Database.Database, tail: string) {
    this.#db = db;
    this.#tail = tail;
  }

  #prepare(n: number, cell: (i: number) => string, perDoc: number): RunStatement {
    const docs = docsPerStatement(n);
    const values = Array.from({ length: n }, (_, i) => cell(i)).join(', ');
    const select =
      'SELECT d.column1, d.column2, c.column1, c.column2, c.column3, d.column3, d.column4 ' +
      `FROM (VALUES (?, ?, ?, ?)) AS d, (VALUES ${values}) AS c`;
    // `WHERE true` keeps the parser from reading ON CONFLICT as a join constraint.
    const sql =
      'INSERT INTO triples (collection, id, field, value, object_type, hlc, version) ' +
      `${Array.from({ length: docs }, () => select).join(' UNION ALL ')} WHERE true ${this.#tail}`;
    const statement = this.#db.prepare<unknown[]>(sql);
    return { run: (params) => statement.run(params), params: new Array<unknown>(docs * perDoc) };
  }

  /** The statement for full runs of documents with `n` cells, fields bound. */
  statement(n: number): RunStatement {
    let s = this.#byCount.get(n);
    if (!s) this.#byCount.set(n, (s = this.#prepare(n, () => '(?, ?, ?)', 4 + 3 * n)));
    return s;
  }

  /**
   * The statement for full runs of documents whose cells have exactly these fields (in this
   * order), or undefined when a field cannot be a literal or too many field lists have one.
   */
  literalStatement(cells: readonly Cell[]): RunStatement | undefined {
    for (const c of cells)
      if (!this.#literalFields.has(c.field)) {
        if (!LITERAL_FIELD.test(c.field)) return undefined;
        if (this.#literalFields.size >= 4096) this.#literalFields.clear();
        this.#literalFields.add(c.field);
      }
    const key = cells.map((c) => c.field).join(',');
    let s = this.#byFields.get(key);
    if (!s) {
      if (this.#byFields.size >= LITERAL_STATEMENTS_MAX) return undefined;
      const n = cells.length;
      this.#byFields.set(key, (s = this.#prepare(n, (i) => `('${cells[i]!.field}', ?, ?)`, 4 + 2 * n)));
    }
    return s;
  }

  /**
   * Start a batch: cells go to `rows` (7 columns: collection, id, field, value, object_type,
   * hlc, version) unless they belong to a run of documents that can share.
   */
  sink(rows: RowSink): CellSink {
    return new CellSink(this, rows);
  }
}

/** Pending document runs of one batch; see {@link CellUpsert}. */
export class CellSink {
  readonly #upsert: CellUpsert;
  readonly #rows: RowSink;
  /** The pending run: documents with `#n` cells each, one stamp each. */
  readonly #run: DocWrite[] = [];
  #n = 0;
  /** The run's statement with its fields as literals, while every document has the first one's fields. */
  #literal: RunStatement | undefined;

  constructor(upsert: CellUpsert, rows: RowSink) {
    this.#upsert = upsert;
    this.#rows = rows;
  }

  /** Upsert a document write's cells (in their order) at its version. */
  add(d: DocWrite): void {
    const cells = d.cells;
    const n = cells.length;
    if (n === 0) return;
    let shares = n >= MIN_CELLS && n <= MAX_CELLS;
    if (shares) {
      const { collection, id, hlc } = cells[0]!;
      for (let i = 1; i < n; i++) {
        const c = cells[i]!;
        if (c.hlc !== hlc || c.id !== id || c.collection !== collection) {
          shares = false;
          break;
        }
      }
    }
    if (!shares) {
      this.#spill();
      this.#addRows(d);
      return;
    }
    if (n !== this.#n) {
      this.#spill();
      this.#n = n;
      this.#literal = this.#upsert.literalStatement(cells);
    } else if (this.#literal) {
      // Another shape of the same width: the run goes on with its fields bound.
      const first = this.#run[0]!.cells;
      for (let i = 0; i < n; i++)
        if (cells[i]!.field !== first[i]!.field) {
          this.#literal = undefined;
          break;
        }
    }
    this.#run.push(d);
    if (this.#run.length === docsPerStatement(n)) this.#writeRun();
  }

  /** Write everything still pending (rows included). */
  flush(): void {
    this.#spill();
    this.#rows.flush();
  }

  #addRows(d: DocWrite): void {
    const version = d.version;
    for (const c of d.cells)
      this.#rows.add(c.collection, c.id, c.field, encodeCell(c.value), objectTypeOf(c.value), c.hlc, version);
  }

  #reset(): void {
    this.#run.length = 0;
    this.#n = 0;
    this.#literal = undefined;
  }

  /** A run shorter than a statement goes the row way (in order). */
  #spill(): void {
    for (const d of this.#run) this.#addRows(d);
    this.#reset();
  }

  #writeRun(): void {
    this.#rows.flush(); // rows added before this run are written first
    const literal = this.#literal;
    const s = literal ?? this.#upsert.statement(this.#n);
    const params = s.params;
    let p = 0;
    for (const d of this.#run) {
      const first = d.cells[0]!;
      params[p++] = first.collection;
      params[p++] = first.id;
      params[p++] = first.hlc;
      params[p++] = d.version;
      for (const c of d.cells) {
        if (!literal) params[p++] = c.field;
        params[p++] = encodeCell(c.value);
        params[p++] = objectTypeOf(c.value);
      }
    }
    s.run(params);
    this.#reset();
  }
}
