// @vitest-environment jsdom
/** @omnisync/svelte on the adapter conformance suite (jsdom, Svelte 5 runes components). */
import { adapterConformanceSuite } from '@omnisync/client/testing';
import { describe, it } from 'vitest';
import { heldServerClient } from '../../client/test/adapter-server.js';
import { svelteDriver } from './conformance-driver.js';

adapterConformanceSuite(svelteDriver(), { describe, it, server: heldServerClient });
