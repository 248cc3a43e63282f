/**
 * Permission rules on the server (issue 13): the app's `defineRules(...)` evaluated by the
 * shared core evaluator against the authenticated principal (the JWT claims). No rules means
 * the behaviour before rules (only the `authorize` hook, if any), logged as a warning at start.
 */
import { createRulesEvaluator, type Principal, type Rules, type RulesEvaluator } from '@omnisync/core';
import type { AuthContext } from './auth.js';
import type { Logger } from '../util/logger.js';

/** The principal rules are evaluated against: every claim of the token, `sub` included. */
export function principalOf(auth: AuthContext): Principal {
  const claims = auth.claims ?? {};
  return auth.userId !== undefined && claims.sub === undefined ? { ...claims, sub: auth.userId } : claims;
}

/** The evaluator for `rules`, or undefined (with a warning) when the server has none. */
export function createServerRules(rules: Rules | undefined, log: Logger): RulesEvaluator | undefined {
  if (!rules) {
    log.warn(
      'no permission rules (createServer({ rules }) / --rules): every authenticated caller can read and write every document of its app.',
    );
    return undefined;
  }
  return createRulesEvaluator(rules);
}
