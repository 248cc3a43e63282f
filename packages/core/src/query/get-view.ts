/**
 * Live `get(id)`: one document (decorated with its includes), routed by id so only
 * changes to that document, or to what its includes read, reach it.
 */
import type { QueryAst } from './ast.js';
import type { Change } from './collection-state.js';
import { compilePredicate, type Doc, type DocPredicate } from './compile.js';
import { IncludeSupport, View, type ViewContext } from './view.js';

/** The live state of a `get` query. */
export class GetView extends View {
  readonly #id: string;
  readonly #pred: DocPredicate;
  readonly #includes: IncludeSupport | undefined;
  readonly #touched = new Set<string>();
  #dirty = false;
  #value: Doc | undefined;

  constructor(ctx: ViewContext, ast: QueryAst) {
    super(ctx, ast);
    this.#id = ast.get!;
    this.#pred = compilePredicate(ast.where);
    this.#includes = ast.include ? new IncludeSupport(ctx, ast) : undefined;
  }

  activate(): void {
    this.#includes?.acquire();
    this.#value = this.#compute();
    this.listen({ kind: 'id', id: this.#id }, this.#includes?.tracker.collections ?? new Set());
  }

  #compute(): Doc | undefined {
    const d = this.ctx.source.get(this.ast.collection, this.#id);
    if (!d || !this.#pred(d)) {
      this.#includes?.tracker.forget(this.#id);
      return undefined;
    }
    return this.#includes ? this.#includes.row(d) : d;
  }

  protected releaseResources(): void {
    this.#includes?.release();
  }

  onChange(collection: string, ch: Change): void {
    const inc = this.#includes;
    if (inc && inc.tracker.collections.has(collection)) {
      inc.tracker.invalidate(collection, ch, this.#touched);
      if (this.#touched.size) this.#dirty = true;
    }
    if (collection === this.ast.collection && ch.id === this.#id) this.#dirty = true;
  }

  onBulk(collection: string): void {
    const inc = this.#includes;
    if (inc && inc.tracker.collections.has(collection)) inc.tracker.invalidateAll(this.#touched);
    this.#dirty = true;
  }

  flush(): boolean {
    if (!this.#dirty) return false;
    this.#dirty = false;
    this.#touched.clear();
    const old = this.#value;
    this.#value = this.#compute();
    return old !== this.#value;
  }

  get value(): Doc | undefined {
    return this.#value;
  }
}
