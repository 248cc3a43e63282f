/**
 * The Todo app: add, toggle, rename, delete, clear completed; all/active/completed views;
 * a status line. Every component reads the state through `useOmni`, so a toggle re-renders
 * the one row it changed.
 */
import { type Entity, meta } from '@omnisync/client';
import { OmniErrorBoundary, useOmni, usePresence, useRoom, useSignal } from '@omnisync/react';
import { type KeyboardEvent, memo, Suspense, useEffect, useState } from 'react';
import { client, DEVTOOLS, type Filter, ME, server, state, type Todo } from './omnisync.js';

const newId = (): string =>
  typeof crypto.randomUUID === 'function'
    ? crypto.randomUUID()
    : `${Date.now()}-${Math.random().toString(36).slice(2)}`;

function NewTodo() {
  const state = useOmni();
  const [title, setTitle] = useState('');
  const add = () => {
    const t = title.trim();
    if (t === '') return;
    state.todos.insert({ id: newId(), title: t, completed: false, createdAt: Date.now() });
    setTitle('');
  };
  return (
    <input
      className="new-todo"
      data-testid="new-todo"
      placeholder="What needs to be done?"
      autoFocus
      value={title}
      onChange={(e) => setTitle(e.target.value)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') add();
      }}
    />
  );
}

const TodoItem = memo(function TodoItem({ todo }: { todo: Entity<Todo> }) {
  const t = useOmni(todo);
  const [editing, setEditing] = useState(false);
  const finish = (value: string) => {
    setEditing(false);
    const v = value.trim();
    if (v === '') state.todos.delete(t.id);
    else if (v !== t.title) t.title = v;
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') finish(e.currentTarget.value);
    else if (e.key === 'Escape') setEditing(false);
  };
  return (
    <li
      className={t.completed ? 'completed' : ''}
      data-testid="todo"
      data-id={t.id}
      data-dirty={meta(t).isDirty}
    >
      {editing ? (
        <input
          className="edit"
          data-testid="edit"
          autoFocus
          defaultValue={t.title}
          onKeyDown={onKey}
          onBlur={(e) => finish(e.currentTarget.value)}
        />
      ) : (
        <div className="view">
          <input
            className="toggle"
            data-testid="toggle"
            type="checkbox"
            checked={t.completed}
            onChange={() => {
              t.completed = !t.completed;
            }}
          />
          <label data-testid="title" onDoubleClick={() => setEditing(true)}>
            {t.title}
          </label>
          <button
            className="destroy"
            data-testid="delete"
            aria-label={`Delete ${t.title}`}
            onClick={() => state.todos.delete(t.id)}
          />
        </div>
      )}
    </li>
  );
});

function TodoList() {
  const state = useOmni();
  const filter = state.ui.filter as Filter;
  const all = state.todos.orderBy({ createdAt: 'asc' });
  const shown = filter === 'all' ? all : all.where({ completed: filter === 'completed' });
  return (
    <ul className="todo-list" data-testid="todo-list">
      {shown.map((t) => (
        <TodoItem key={t.id} todo={t} />
      ))}
    </ul>
  );
}

function Footer() {
  const state = useOmni();
  const filter = state.ui.filter as Filter;
  const left = state.todos.where({ completed: false }).length;
  const done = state.todos.where({ completed: true });
  return (
    <footer className="footer">
      <span className="todo-count" data-testid="todo-count">
        {left} {left === 1 ? 'item' : 'items'} left
      </span>
      <ul className="filters">
        {(['all', 'active', 'completed'] as const).map((f) => (
          <li key={f}>
            <button
              data-testid={`filter-${f}`}
              className={filter === f ? 'selected' : ''}
              onClick={() => (state.ui.filter = f)}
            >
              {f[0]!.toUpperCase() + f.slice(1)}
            </button>
          </li>
        ))}
      </ul>
      {done.length > 0 && (
        <button
          className="clear-completed"
          data-testid="clear-completed"
          onClick={() => state.todos.delete(done.map((t) => t.id))}
        >
          Clear completed
        </button>
      )}
    </footer>
  );
}

/** Online / offline / syncing, and how many changes wait for the server. */
function StatusLine() {
  const status = useSignal(server.status);
  const label = status.state === 'connecting' ? 'connecting' : status.state;
  return (
    <p className="status" data-testid="status" data-state={status.state} data-pending={status.pending}>
      {label} · {status.pending} pending {status.pending === 1 ? 'change' : 'changes'}
      {status.partitioned ? ' · offline for over a minute' : ''}
    </p>
  );
}

/** Who else has the list open: the members of the list's room and the names they share. */
function WhoIsOnline() {
  const room = useRoom<{ name: string }>('todo-list', ME);
  const { others, status } = usePresence(room);
  const names = others.map((o) => o.state?.name ?? o.user);
  return (
    <p className="online" data-testid="online" data-status={status} data-count={others.length}>
      {status !== 'joined'
        ? `${ME.name} · presence ${status}`
        : names.length === 0
          ? `${ME.name} · nobody else here`
          : `${ME.name} · also here: ${names.join(', ')}`}
    </p>
  );
}

/**
 * The devtools toggle: the panel (`@omnisync/devtools`) is loaded on first open, as a
 * chunk of its own, so the app's bundle does not carry it. `?devtools` opens it at start.
 */
function DevtoolsToggle() {
  const [open, setOpen] = useState(DEVTOOLS);
  useEffect(() => {
    if (!open) return;
    let cancelled = false;
    let unmount: (() => void) | undefined;
    import('@omnisync/devtools').then(
      ({ mountDevtools }) => {
        if (cancelled) return;
        unmount = mountDevtools(client, undefined, { onClose: () => setOpen(false) }).unmount;
      },
      (err: unknown) => console.error('devtools did not load', err),
    );
    return () => {
      cancelled = true;
      unmount?.();
    };
  }, [open]);
  return (
    <button
      className="devtools-toggle"
      data-testid="devtools-toggle"
      aria-pressed={open}
      onClick={() => setOpen((o) => !o)}
    >
      {open ? 'Hide devtools' : 'Devtools'}
    </button>
  );
}

/** The whole app. */
export function App() {
  return (
    <section className="todoapp">
      <header className="header">
        <h1>todos</h1>
        <NewTodo />
      </header>
      <OmniErrorBoundary fallback={(e) => <p role="alert">Could not load the todos: {e.message}</p>}>
        <Suspense fallback={<p data-testid="loading">Loading…</p>}>
          <TodoList />
          <Footer />
        </Suspense>
      </OmniErrorBoundary>
      <StatusLine />
      <WhoIsOnline />
      <DevtoolsToggle />
    </section>
  );
}
