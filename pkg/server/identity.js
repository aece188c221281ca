// Who is calling: a bearer token mapped to an actor, roles and a tenant
// (never a header of the request), or, without tokens, the one anonymous
// developer of a loopback-only development server.

import { HttpError } from './http.js';

/** The identity of the development mode: every permission (allow-all policy). */
export const DEVELOPER = Object.freeze({ actor: 'developer', roles: Object.freeze([]), tenant: null, development: true });

const TOKEN_FIELDS = new Set(['actor', 'roles', 'tenant']);

function invalid(message) {
  return new HttpError(400, 'VALIDATION', message, { field: 'tokens' });
}

/**
 * Tokens from their JSON form `{ "<token>": { actor, roles?, tenant? } }`
 * (tenant absent or null: global), checked.
 */
export function parseTokens(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('tokens must be an object mapping each token to { actor, roles, tenant }');
  }
  const tokens = new Map();
  for (const [token, entry] of Object.entries(value)) {
    if (token.length < 8) throw invalid('a token has at least 8 characters');
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw invalid(`token ${token.slice(0, 4)}…: must be an object`);
    for (const key of Object.keys(entry)) {
      if (!TOKEN_FIELDS.has(key)) throw invalid(`token ${token.slice(0, 4)}…: unknown field ${JSON.stringify(key)} (actor, roles, tenant)`);
    }
    const { actor, roles = [], tenant = null } = entry;
    if (typeof actor !== 'string' || actor === '') throw invalid(`token ${token.slice(0, 4)}…: actor must be a non-empty string`);
    if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string')) throw invalid(`token ${token.slice(0, 4)}…: roles must be strings`);
    if (tenant !== null && (typeof tenant !== 'string' || tenant === '')) throw invalid(`token ${token.slice(0, 4)}…: tenant must be a non-empty string or null`);
    tokens.set(token, Object.freeze({ actor, roles: Object.freeze([...roles]), tenant, development: false }));
  }
  return tokens;
}

/** The identity behind a request, or 401. */
export function identify(request, tokens) {
  if (tokens === null) return DEVELOPER;
  const header = request.headers.get('authorization');
  const match = header === null ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  const identity = match ? tokens.get(match[1]) : undefined;
  if (identity === undefined) {
    throw new HttpError(401, 'UNAUTHENTICATED', 'Authentication is required to access this endpoint.', {}, { 'www-authenticate': 'Bearer' });
  }
  return identity;
}

/**
 * The service of each identity: one per (tenant, actor, roles), derived
 * from the root service so they share the store, the registry and the
 * files, and hear each other's changes. At most `max` are kept.
 */
export function servicesFor(root, max = 1000) {
  const services = new Map();
  const of = (identity) => {
    const key = JSON.stringify([identity.tenant, identity.actor, identity.roles]);
    let svc = services.get(key);
    if (svc === undefined) {
      svc = root.derive({ tenant: identity.tenant, actor: identity.actor, roles: [...identity.roles] });
      // An evicted service may still serve a request in flight: it is
      // dropped, not freed, and goes with its last user.
      if (services.size >= max) services.delete(services.keys().next().value);
      services.set(key, svc);
    } else {
      // Most recently used last.
      services.delete(key);
      services.set(key, svc);
    }
    return svc;
  };
  of.clear = () => services.clear();
  return of;
}
