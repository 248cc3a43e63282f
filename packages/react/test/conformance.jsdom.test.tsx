// @vitest-environment jsdom
/** @omnisync/react on the adapter conformance suite (jsdom). */
import { adapterConformanceSuite } from '@omnisync/client/testing';
import { describe, it } from 'vitest';
import { heldServerClient } from '../../client/test/adapter-server.js';
import { reactDriver } from './conformance-driver.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

adapterConformanceSuite(reactDriver(), { describe, it, server: heldServerClient });
