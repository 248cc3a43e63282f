/**
 * The optional parts of a client, as values a bundler drops when nothing names them:
 * multi-tab, rooms, devtools inspection and named mutations. `createClient` has them all;
 * `createLeanClient(options, { rooms: roomsFeature, … })` has only those it is given, so an
 * app that uses none of them does not ship their code.
 */
import { Inspector } from './inspect/inspector.js';
import type { InspectorHost } from './inspect/types.js';
import { checkMutators, mutate } from './mutators/mutate.js';
import { resolveTabs } from './multitab/resolve-tabs.js';
import { createTabSource } from './multitab/tab-source.js';
import { ClientRoom } from './rooms/room.js';
import { RoomLink, type RoomLinkOptions } from './rooms/room-link.js';

/** Multiple tabs sharing one replica (`multiTab` option, `client.tabs`). */
export const multiTabFeature = { resolveTabs, createTabSource } as const;
/** Named mutations (`mutators` option, `client.mutate`). */
export const mutatorsFeature = { checkMutators, mutate } as const;
/** Rooms with presence and events (`client.room`). */
export const roomsFeature = {
  link: (options: RoomLinkOptions): RoomLink => new RoomLink(options),
  room: (name: string, link: () => RoomLink, onError: (error: unknown) => void): ClientRoom<never> =>
    new ClientRoom<never>(name, link, onError),
} as const;
/** Devtools inspection (`experimental_inspect` option and property). */
export const inspectFeature = { create: (host: InspectorHost): Inspector => new Inspector(host) } as const;

/** The optional parts a client is built with; see {@link createLeanClient}. */
export interface ClientFeatures {
  readonly multiTab?: typeof multiTabFeature;
  readonly mutators?: typeof mutatorsFeature;
  readonly rooms?: typeof roomsFeature;
  readonly inspect?: typeof inspectFeature;
}

/** Every optional part: what `createClient` is built with. */
export const ALL_FEATURES: ClientFeatures = {
  multiTab: multiTabFeature,
  mutators: mutatorsFeature,
  rooms: roomsFeature,
  inspect: inspectFeature,
};
