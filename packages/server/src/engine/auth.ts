/**
 * Authentication of requests and WebSocket hellos with JWTs (jose): a shared secret (HS256)
 * or a JWKS URL (asymmetric keys), or both (chosen by the token's `alg`). The token's `app`
 * claim must equal the app in the URL. Missing, expired, badly signed or unsigned
 * (`alg: none`) tokens get 401 `unauthorized`; another app's token gets 403 `forbidden`.
 * With neither secret nor JWKS configured the server is open (development mode).
 */
import { ForbiddenError, NetworkError, OmniSyncError, UnauthorizedError } from '@omnisync/core';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';

/** Auth settings. */
export interface AuthOptions {
  /** Shared secret for HS256 tokens. */
  secret?: string;
  /** URL of a JSON Web Key Set for asymmetric tokens (RS256, ES256, EdDSA…). */
  jwksUrl?: string;
  /** Required `iss`, when set. */
  issuer?: string;
  /** Required `aud`, when set. */
  audience?: string;
  /** Allowed clock skew for `exp`/`nbf`, in seconds (default 5). */
  clockToleranceSec?: number;
}

/** Who is calling, once authenticated. */
export interface AuthContext {
  /** The app (tenant) of the URL. */
  readonly app: string;
  /** The token's `sub`, when there is one. */
  readonly userId: string | undefined;
  /** Every claim of the token (undefined in open mode). */
  readonly claims: JWTPayload | undefined;
  /** When the token expires (ms since epoch), if it does. */
  readonly expiresAt: number | undefined;
}

/** Verifies tokens for an app. */
export interface Authenticator {
  /** False in open (development) mode. */
  readonly required: boolean;
  authenticate(app: string, token: string | undefined): Promise<AuthContext>;
}

const HMAC_ALGS = ['HS256'];
const ASYMMETRIC_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/** Read `Authorization: Bearer <token>`. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

/** Create the authenticator for the given settings (open mode when neither secret nor JWKS). */
export function createAuthenticator(options: AuthOptions | undefined): Authenticator {
  const secret = options?.secret ? new TextEncoder().encode(options.secret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = options?.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl))
    : undefined;
  if (!secret && !jwks) {
    return {
      required: false,
      authenticate: async (app) => ({ app, userId: undefined, claims: undefined, expiresAt: undefined }),
    };
  }
  const verifyOptions = {
    ...(options?.issuer ? { issuer: options.issuer } : {}),
    ...(options?.audience ? { audience: options.audience } : {}),
    clockTolerance: options?.clockToleranceSec ?? 5,
  };
  return {
    required: true,
    async authenticate(app, token) {
      if (!token)
        throw new UnauthorizedError(
          `App ${app} requires a token: send "Authorization: Bearer <jwt>" (HTTP) or hello {token} (WebSocket).`,
        );
      let alg: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        throw new UnauthorizedError(
          'The token is malformed: expected a compact JWT (header.payload.signature).',
        );
      }
      let payload: JWTPayload;
      try {
        if (typeof alg === 'string' && alg.startsWith('HS')) {
          if (!secret)
            throw new UnauthorizedError(
              `This server does not accept ${alg} tokens; use a key from its JWKS.`,
            );
          ({ payload } = await jwtVerify(token, secret, { ...verifyOptions, algorithms: HMAC_ALGS }));
        } else {
          if (!jwks)
            throw new UnauthorizedError(
              `This server accepts only HS256 tokens signed with its secret (got alg ${String(alg)}).`,
            );
          ({ payload } = await jwtVerify(token, jwks, { ...verifyOptions, algorithms: ASYMMETRIC_ALGS }));
        }
      } catch (err) {
        throw toAuthError(err, alg, [...(secret ? HMAC_ALGS : []), ...(jwks ? ASYMMETRIC_ALGS : [])]);
      }
      if (payload.app !== app) {
        throw new ForbiddenError(
          typeof payload.app === 'string'
            ? `This token is for app ${JSON.stringify(payload.app)}, not ${JSON.stringify(app)}; use a token issued for ${JSON.stringify(app)}.`
            : `This token has no "app" claim; issue tokens with app: ${JSON.stringify(app)}.`,
        );
      }
      return {
        app,
        userId: typeof payload.sub === 'string' ? payload.sub : undefined,
        claims: payload,
        expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
      };
    },
  };
}

/** A jose failure → a typed error; `alg` is the token's, `accepted` what this server verifies. */
function toAuthError(err: unknown, alg: unknown, accepted: readonly string[]): OmniSyncError {
  if (err instanceof OmniSyncError) return err;
  if (err instanceof joseErrors.JWTExpired)
    return new UnauthorizedError('The token has expired; get a fresh token and retry.');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return new UnauthorizedError(
      'The token signature does not verify; it was not signed by a key this server trusts.',
    );
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return new UnauthorizedError(
      `The token's algorithm ${JSON.stringify(alg)} is not accepted; this server accepts ${accepted.join(', ')}${
        typeof alg === 'string' && alg.startsWith('HS') ? ' (sign with its secret using HS256)' : ''
      }.`,
      { details: { alg: typeof alg === 'string' ? alg.slice(0, 32) : null, accepted } },
    );
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid)
    return new NetworkError('The server could not load its JWKS to verify the token; retry later.', {
      cause: err,
    });
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return new UnauthorizedError(
      `The token's "${err.claim}" claim is not acceptable (${err.reason}); get a fresh token.`,
    );
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return new UnauthorizedError('No key of the JWKS matches the token (unknown kid or alg).');
  if (err instanceof joseErrors.JOSEError)
    return new UnauthorizedError(`The token is not valid: ${err.message}.`);
  if (err instanceof TypeError)
    return new NetworkError('The server could not fetch its JWKS; retry later.', { cause: err });
  return new UnauthorizedError('The token is not valid.');
}
