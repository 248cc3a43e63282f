// An app's convex/schema.ts with the sync tables (what a user of @omnisync/convex writes).
import { defineSchema } from 'convex/server';
import { syncTables } from '../../src/server.js';

export default defineSchema({ ...syncTables });
