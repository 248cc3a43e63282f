// @vitest-environment jsdom
/** @omnisync/react on the adapter conformance suite (jsdom). */
import { adapterConformanceSuite } from '@omnisync/client/testing';
import { describe, it } from 'vitest';
import { reactDriver } from './conformance-driver.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

adapterConformanceSuite(reactDriver(), { describe, it });
