// @vitest-environment jsdom
/** @omnisync/solid on the adapter conformance suite (jsdom, Solid's browser build: see vitest.config.ts). */
import { adapterConformanceSuite } from '@omnisync/client/testing';
import { describe, it } from 'vitest';
import { heldServerClient } from '../../client/test/adapter-server.js';
import { solidDriver } from './conformance-driver.js';

adapterConformanceSuite(solidDriver(), { describe, it, server: heldServerClient });
