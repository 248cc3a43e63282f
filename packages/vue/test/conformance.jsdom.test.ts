// @vitest-environment jsdom
/** @omnisync/vue on the adapter conformance suite (jsdom). */
import { adapterConformanceSuite } from '@omnisync/client/testing';
import { describe, it } from 'vitest';
import { heldServerClient } from '../../client/test/adapter-server.js';
import { vueDriver } from './conformance-driver.js';

adapterConformanceSuite(vueDriver(), { describe, it, server: heldServerClient });
