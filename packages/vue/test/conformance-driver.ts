/**
 * The Vue driver of the adapter conformance suite (also used by bench/frameworks.bench.ts):
 * the list reads `useLiveQuery` and renders a keyed row component per row (Vue re-renders a
 * child only when its props changed); loading and errors show from the composable's refs.
 */
import type { AdapterDriver, AdapterListProps, ConformanceRow } from '@omnisync/client/testing';
import { createApp, defineComponent, h, nextTick, type PropType } from 'vue';
import { provideOmniSync, useLiveQuery } from '../src/index.js';

const Row = defineComponent({
  props: {
    row: { type: Object as PropType<ConformanceRow>, required: true },
    onRender: { type: Function as PropType<(id: string) => void>, required: true },
  },
  setup(props) {
    return () => {
      props.onRender(props.row.id);
      return h('li', { 'data-id': props.row.id, 'data-done': String(props.row.done) }, props.row.title);
    };
  },
});

const List = defineComponent({
  props: {
    query: { type: Object as PropType<AdapterListProps['query']>, required: true },
    onRowRender: { type: Function as PropType<(id: string) => void>, required: true },
  },
  setup(props) {
    const { data, status, error } = useLiveQuery(props.query);
    return () => {
      if (status.value === 'loading') return h('p', { 'data-testid': 'loading' }, 'loading');
      if (status.value === 'error') return h('p', { role: 'alert' }, error.value?.message);
      return h(
        'ul',
        data.value.map((r) => h(Row, { key: r.id, row: r, onRender: props.onRowRender })),
      );
    };
  },
});

/** The Vue driver. */
export function vueDriver(): AdapterDriver {
  return {
    name: 'Vue',
    mount({ client, query, onRowRender }, container) {
      const app = createApp(
        defineComponent({
          setup() {
            provideOmniSync(client);
            return () => h(List, { query, onRowRender });
          },
        }),
      );
      app.mount(container);
      return { unmount: () => app.unmount() };
    },
    act: async (fn) => {
      await fn();
      await nextTick();
    },
  };
}
