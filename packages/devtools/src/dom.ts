/**
 * A tiny element builder for the panel (no framework: the panel must mount in any page).
 * Text goes in as text nodes, never as HTML, so values from documents cannot inject markup.
 */

/** What may be a child: nodes, text, nothing, or lists of them. */
export type Child = Node | string | number | null | undefined | false | readonly Child[];

/** Attributes: strings/numbers set as attributes, `true` as an empty one, `on*` functions as listeners. */
export type Attrs = Readonly<Record<string, string | number | boolean | undefined | ((e: Event) => void)>>;

/** An element factory bound to one document. */
export type H = (tag: string, attrs?: Attrs | null, ...children: Child[]) => HTMLElement;

/** The element factory of `doc`. */
export function createH(doc: Document): H {
  const append = (el: Node, c: Child): void => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) for (const x of c as readonly Child[]) append(el, x);
    else if (typeof c === 'string' || typeof c === 'number') el.appendChild(doc.createTextNode(String(c)));
    else el.appendChild(c as Node);
  };
  return (tag, attrs, ...children) => {
    const el = doc.createElement(tag);
    if (attrs)
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === false) continue;
        if (typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
        else if (v === true) el.setAttribute(k, '');
        else el.setAttribute(k, String(v));
      }
    for (const c of children) append(el, c);
    return el;
  };
}
