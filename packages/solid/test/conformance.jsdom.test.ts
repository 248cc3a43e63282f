// @vitest-environment jsdom
/** @omnisync/solid on the adapter conformance suite (jsdom, Solid's browser build: see vitest.config.ts). */
import { adapterConformanceSuite } from '@omnisync/client/testing';
import { describe, it } from 'vitest';
import { solidDriver } from './conformance-driver.js';

adapterConformanceSuite(solidDriver(), { describe, it });
