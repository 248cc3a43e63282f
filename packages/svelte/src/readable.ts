/**
 * @internal A Svelte store that is also readable as `.current` in runes: `$store` in a
 * template, `store.current` in `$derived` / `$effect` (through `createSubscriber`, which
 * holds the store's subscription while an effect reads it).
 */
import { createSubscriber } from 'svelte/reactivity';
import { get, type Readable } from 'svelte/store';

/** A store with a rune-friendly `current`. */
export interface OmniReadable<T> extends Readable<T> {
  /** The value now; read in an effect or `$derived`, it re-runs when the value changes. */
  readonly current: T;
}

/** @internal */
export function withCurrent<T>(store: Readable<T>): OmniReadable<T> {
  const track = createSubscriber((update) => {
    let first = true;
    const off = store.subscribe(() => {
      // The store calls back at once with its value: that is no change.
      if (first) first = false;
      else update();
    });
    return off;
  });
  return {
    subscribe: store.subscribe,
    get current() {
      track();
      return get(store);
    },
  };
}
