/**
 * Two replicas edit the same documents while offline, then exchange their cells in
 * opposite orders and converge, field by field, with the delete winning.
 * Run: npm run example:converge
 */
import { type Cell, createHlc, createManualScheduler, flattenDocument, Replica } from '@omnisync/core';

const time = createManualScheduler(Date.UTC(2026, 0, 1));
const replicas = {
  alice: { replica: new Replica(), hlc: createHlc({ nodeId: 'alice', clock: time }), outbox: [] as Cell[] },
  bob: { replica: new Replica(), hlc: createHlc({ nodeId: 'bob', clock: time }), outbox: [] as Cell[] },
};
type Name = keyof typeof replicas;

function write(who: Name, collection: string, doc: Record<string, unknown>) {
  const r = replicas[who];
  const hlc = r.hlc.now();
  const id = doc.id as string;
  const cells: Cell[] = flattenDocument(doc).map(([field, value]) => ({ collection, id, field, value, hlc }));
  r.replica.apply(cells);
  r.outbox.push(...cells);
}
function insert(who: Name, collection: string, doc: Record<string, unknown>) {
  const r = replicas[who];
  const hlc = r.hlc.now();
  const id = doc.id as string;
  const cells: Cell[] = [
    { collection, id, field: 'id', value: id, hlc },
    ...flattenDocument(doc).map(([field, value]) => ({ collection, id, field, value, hlc })),
  ];
  r.replica.apply(cells);
  r.outbox.push(...cells);
}
function remove(who: Name, collection: string, id: string) {
  const r = replicas[who];
  const cell: Cell = { collection, id, field: '_deleted', value: true, hlc: r.hlc.now() };
  r.replica.apply([cell]);
  r.outbox.push(cell);
}
const show = (label: string) => {
  console.log(`\n${label}`);
  for (const name of Object.keys(replicas) as Name[])
    console.log(
      `  ${name.padEnd(5)} ${JSON.stringify([...replicas[name].replica.documents('todos')].sort((a, b) => String(a.id).localeCompare(String(b.id))))}`,
    );
};

// Both start from the same synced state.
insert('alice', 'todos', { id: 't1', title: 'Buy milk', done: false, meta: { priority: 1 } });
insert('alice', 'todos', { id: 't2', title: 'Walk dog', done: false });
replicas.bob.replica.apply(replicas.alice.outbox.splice(0));
show('synced:');

// Offline: concurrent edits to the same document, different and same fields.
time.advance(1000);
write('alice', 'todos', { id: 't1', title: 'Buy oat milk' });
write('bob', 'todos', { id: 't1', done: true, meta: { priority: 3 } });
time.advance(1000);
write('alice', 'todos', { id: 't1', meta: { priority: 2 } }); // later than bob's priority: alice wins that cell
remove('bob', 'todos', 't2');
time.advance(1000);
write('alice', 'todos', { id: 't2', title: 'Walk the dog (later edit)' }); // later than the delete: delete still wins
show('offline, diverged:');

// Reconnect: each receives the other's cells, in reverse order and duplicated.
const fromAlice = replicas.alice.outbox.splice(0);
const fromBob = replicas.bob.outbox.splice(0);
for (const c of [...fromBob].reverse()) replicas.alice.replica.applyTrusted([c]);
replicas.bob.replica.apply([...fromAlice, ...fromAlice]);
show('after exchange:');

const a = JSON.stringify(
  replicas.alice.replica
    .cellsSince(0)
    .sort((x, y) => `${x.id}/${x.field}`.localeCompare(`${y.id}/${y.field}`)),
);
const b = JSON.stringify(
  replicas.bob.replica.cellsSince(0).sort((x, y) => `${x.id}/${x.field}`.localeCompare(`${y.id}/${y.field}`)),
);
console.log(`\nconverged: ${a === b ? 'yes' : 'NO'} (field-level last-write-wins; delete wins)`);
process.exitCode = a === b ? 0 : 1;
