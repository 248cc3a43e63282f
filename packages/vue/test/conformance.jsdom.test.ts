// @vitest-environment jsdom
/** @omnisync/vue on the adapter conformance suite (jsdom). */
import { adapterConformanceSuite } from '@omnisync/client/testing';
import { describe, it } from 'vitest';
import { vueDriver } from './conformance-driver.js';

adapterConformanceSuite(vueDriver(), { describe, it });
