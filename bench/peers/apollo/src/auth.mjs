// The caller: an RS256 bearer JWT verified against the identity provider's JWKS (jose),
// with the claims the gateway checks (app/auth/verifier.py): issuer, audience, subject,
// exp/iat with 30 s leeway, and the `memberships` and `scope` claims.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { GraphQLError } from 'graphql';

const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const BUSINESS_ID = /^biz_[A-Za-z0-9]{1,32}$/;
const SUBJECT = /^[\x21-\x7e]{1,255}$/;
const ROLES = new Set(['owner', 'admin', 'accountant', 'viewer']);
const KNOWN_SCOPES = new Set([
  'businesses:read', 'customers:read', 'customers:write', 'invoices:read',
  'invoices:write', 'payments:read', 'payments:write',
]);

export class AuthenticationError extends GraphQLError {
  constructor(reason) {
    super('Authentication required.', {
      extensions: { code: 'UNAUTHENTICATED', reason, http: { status: 401 } },
    });
  }
}

export function makeVerifier({ issuer, audience, jwksUrl }) {
  const jwks = createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: 30_000 });
  return async function verify(header) {
    const [scheme, token] = (header ?? '').split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) throw new AuthenticationError('missing');
    if (token.length > 8192 || !TOKEN_SHAPE.test(token)) throw new AuthenticationError('malformed');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer, audience, algorithms: ['RS256'], clockTolerance: 30, requiredClaims: ['sub', 'exp', 'iat'],
      }));
    } catch (error) {
      throw new AuthenticationError(error.code ?? 'invalid');
    }
    if (typeof payload.sub !== 'string' || !SUBJECT.test(payload.sub)) throw new AuthenticationError('bad_subject');
    if (payload.iat > Date.now() / 1000 + 30) throw new AuthenticationError('issued_in_future');
    return { subject: payload.sub, memberships: memberships(payload), scopes: scopes(payload) };
  };
}

function memberships(payload) {
  const found = new Map();
  if (payload.memberships === undefined) return found;
  if (!Array.isArray(payload.memberships)) throw new AuthenticationError('bad_claim:memberships');
  for (const entry of payload.memberships) {
    const id = entry?.business_id;
    const role = entry?.role;
    if (typeof id !== 'string' || !BUSINESS_ID.test(id) || !ROLES.has(role) || found.has(id)) {
      throw new AuthenticationError('bad_claim:memberships');
    }
    found.set(id, role);
  }
  return found;
}

function scopes(payload) {
  if (payload.scope === undefined) return null; // a first-party token
  if (typeof payload.scope !== 'string') throw new AuthenticationError('bad_claim:scope');
  return new Set(payload.scope.split(' ').filter((s) => KNOWN_SCOPES.has(s)));
}
