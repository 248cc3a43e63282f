/**
 * Type-level tests of the state API: the whole shape of the state is inferred from
 * `defineState`. The `expectTypeOf` lines are checked by the TypeScript compiler, which the
 * last test runs on this very file, so a regression in the inference fails the test run.
 */
import { fileURLToPath } from 'node:url';
import { type CollectionDef, defineCollection, t } from '@omnisync/core';
import ts from 'typescript';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Client } from '../client.js';
import type { Transaction } from '../transactions/transaction.js';
import type { BackendBinding } from '../sources/bindings/binding.js';
import { createState } from './create-state.js';
import { defineState, type StateOf } from './define-state.js';
import { META, type MetaState, meta } from './meta.js';
import type { CollectionNode, Entity, QueryNode } from './node-types.js';
import { Omni } from './omni-write.js';

interface Todo {
  id: string;
  title: string;
  completed: boolean;
  createdAt: number;
  meta?: { color?: string };
}
interface User {
  id: string;
  name: string;
}

const users = defineCollection({
  name: 'users',
  schema: t.object({ id: t.string(), name: t.string(), age: t.number().optional() }),
});
const userBinding = {} as BackendBinding<User>; // never called: the shape only

const appState = defineState({
  ui: {
    sidebarOpen: false,
    theme: 'dark',
    panel: { width: 240, tabs: ['a', 'b'] },
    _options: { persist: true },
  },
  todos: {
    _source: 'server',
    _type: [] as Todo[],
    _options: { staleTime: 5000, refetchOnMount: true, sync: true },
  },
  people: { _binding: userBinding },
  members: { _schema: users },
});

type AppState = StateOf<typeof appState>;

/** Only compiled, never run: every line is a type assertion. */
function typeAssertions(client: Client) {
  const state = createState(client, appState);
  expectTypeOf(state).toEqualTypeOf<AppState>();

  // Local state: widened values, nested nodes, `_options` not part of the shape.
  expectTypeOf(state.ui.sidebarOpen).toEqualTypeOf<boolean>();
  expectTypeOf(state.ui.theme).toEqualTypeOf<string>();
  expectTypeOf(state.ui.panel.width).toEqualTypeOf<number>();
  expectTypeOf(state.ui.panel.tabs).toEqualTypeOf<string[]>();
  // @ts-expect-error: `_options` is configuration, not state
  void state.ui._options;
  state.ui.theme = 'light';
  // @ts-expect-error: theme is a string
  state.ui.theme = 3;

  // Collections: typed documents from `_type`, `_binding` and `_schema`.
  expectTypeOf(state.todos).toEqualTypeOf<CollectionNode<Todo>>();
  expectTypeOf(state.people).toEqualTypeOf<CollectionNode<User>>();
  expectTypeOf(state.members.get('x')!.name).toEqualTypeOf<string>();
  expectTypeOf(state.members.get('x')!.age).toEqualTypeOf<number | undefined>();

  // Queries keep the document type; rows are documents with the meta side-channel.
  const open = state.todos.where({ completed: false }).orderBy({ createdAt: 'desc' }).limit(10);
  expectTypeOf(open).toEqualTypeOf<QueryNode<Todo>>();
  expectTypeOf(open[0]).toEqualTypeOf<Entity<Todo> | undefined>();
  expectTypeOf(open.map((x) => x.title)).toEqualTypeOf<string[]>();
  expectTypeOf(state.todos.get('a')).toEqualTypeOf<Entity<Todo> | undefined>();
  // @ts-expect-error: orderBy takes 'asc' | 'desc'
  state.todos.orderBy({ createdAt: 'up' });

  // Writes by assignment are typed by the document.
  const todo = open[0]!;
  todo.completed = !todo.completed;
  // @ts-expect-error: completed is a boolean
  todo.completed = 'yes';
  expectTypeOf(
    state.todos.insert({ id: 'x', title: 'X', completed: false, createdAt: 0 }),
  ).toEqualTypeOf<Transaction>();
  // @ts-expect-error: a todo needs its fields
  state.todos.insert({ id: 'x' });
  expectTypeOf(state.todos.update('x', { title: 'Y' })).toEqualTypeOf<Transaction>();

  // META / meta().
  expectTypeOf(meta(open)).toEqualTypeOf<MetaState>();
  expectTypeOf(todo[META].isDirty).toEqualTypeOf<boolean>();
  expectTypeOf(meta(open).status).toEqualTypeOf<'idle' | 'loading' | 'error' | 'ready'>();

  // Omni.write.
  expectTypeOf(Omni.write(() => {}, { optimistic: false })).toEqualTypeOf<Promise<readonly Transaction[]>>();

  // A definition's schema def stays a CollectionDef.
  expectTypeOf(users).toMatchTypeOf<CollectionDef<'users', any, any>>();
}
void typeAssertions;

describe('defineState type inference', () => {
  it('the assertions of this file type-check (tsc run on the file)', () => {
    const file = fileURLToPath(import.meta.url);
    const root = fileURLToPath(new URL('../../../../', import.meta.url));
    const configPath = ts.findConfigFile(root, ts.sys.fileExists, 'tsconfig.json')!;
    const parsed = ts.parseJsonConfigFileContent(
      ts.readConfigFile(configPath, ts.sys.readFile).config,
      ts.sys,
      root,
    );
    const program = ts.createProgram([file], { ...parsed.options, noEmit: true });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file?.fileName === file || d.file === undefined)
      .map(
        (d) =>
          `${d.file ? `line ${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
      );
    expect(diagnostics).toEqual([]);
  }, 120_000);
});
