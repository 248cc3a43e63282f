/** HS256 test tokens (jose), valid for an hour, and tampering helpers for the auth matrix. */
import { SignJWT } from 'jose';

/** A token with `claims`, signed with `secret`. */
export function signToken(secret: string, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(secret));
}

/** `token` with its payload replaced by `patch` merged in, signature kept (a forged claim). */
export function tamperToken(token: string, patch: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
  const forged = Buffer.from(JSON.stringify({ ...claims, ...patch })).toString('base64url');
  return `${header}.${forged}.${signature}`;
}
