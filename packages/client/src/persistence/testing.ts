/**
 * The persistence conformance suite, for `@omnisync/client/testing`: run it against any
 * {@link Persistence} implementation (browser-safe; no test framework required).
 */
export { persistenceSuite, runPersistenceCases, persistenceCases } from './suite.js';
export type {
  PersistenceFactory,
  PersistenceCase,
  PersistenceCaseContext,
  PersistenceSuiteOptions,
  PersistenceCaseResult,
} from './suite.js';
export type { Persistence } from './types.js';
