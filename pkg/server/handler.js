// The request handler: routes, identity, errors. Built on the Fetch API
// (`fetch(request) -> Promise<Response>`), so it mounts in Hono, in
// Express through an adapter, in plain node:http (see ./node.js), or in
// any runtime with Request and Response.

import { adr } from './adr.js';
import { HttpError, errorResponse, json } from './http.js';
import { identify, parseTokens, servicesFor } from './identity.js';
import { discovery, meta, upstreamErrorResponse } from './meta.js';

/** The limits a handler applies unless told otherwise. */
export const DEFAULT_LIMITS = Object.freeze({
  /** Largest body of a single definition (bytes): the core's 8 MiB plus room for JSON whitespace. */
  body: 12 * 1024 * 1024,
  /** Largest body of a batch (bytes). */
  batch: 64 * 1024 * 1024,
  /** Most keys one `_fetch` asks for. */
  fetch: 10000,
  /** Interval of the change stream's keep-alive comments (ms). */
  heartbeatMs: 15000,
});

function segments(pathname) {
  try {
    return pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw new HttpError(400, 'VALIDATION', 'the path is not valid percent-encoding');
  }
}

function allowOnly(method) {
  return (methods) => {
    if (!methods.includes(method)) {
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed here (${methods.join(', ')})`, {}, { allow: methods.join(', ') });
    }
  };
}

/**
 * A handler over `service` (the root service: its store, registry, files
 * and access policy are every caller's).
 *
 * @param {object} options
 * @param {object} options.service a MetadataService (global scope); each caller gets one derived from it
 * @param {object|null} [options.tokens] `{ "<token>": { actor, roles, tenant } }`; null or absent: development mode (one anonymous developer, every permission)
 * @param {object} [options.limits] overrides of DEFAULT_LIMITS
 * @param {string} [options.globalOrg] the org of global callers on /api/v1/meta (default 'env')
 * @param {string} [options.version] reported by discovery
 */
export function createHandler(options) {
  const { service, globalOrg = 'env', version = '0.1.0' } = options ?? {};
  if (!service || typeof service.derive !== 'function') {
    throw new HttpError(400, 'VALIDATION', 'createHandler needs { service }: a MetadataService', { field: 'service' });
  }
  const tokens = options.tokens === undefined || options.tokens === null ? null : parseTokens(options.tokens);
  const limits = { ...DEFAULT_LIMITS, ...(options.limits ?? {}) };
  const serviceOf = servicesFor(service);

  // Whether a body was sent and not read (a request without one, such as
  // an empty POST, keeps its connection).
  const unreadBody = (request) => {
    if (request.body === null || request.bodyUsed) return false;
    const length = request.headers.get('content-length');
    return length === null ? request.headers.has('transfer-encoding') : length !== '0';
  };

  // An error answered before the request's body was read: the connection
  // closes after it, as after a body over the limit, rather than carrying
  // the unread rest into the next request (the client then saw a reset).
  async function route(request) {
    const response = await answer(request);
    if (response.status >= 400 && unreadBody(request)) response.headers.set('connection', 'close');
    return response;
  }

  async function answer(request) {
    const url = new URL(request.url);
    const upstream = /^\/api\/v1\/meta(\/|$)/.test(url.pathname);
    try {
      const parts = segments(url.pathname);
      if (parts[0] !== 'api' || parts[1] !== 'v1') throw new HttpError(404, 'NOT_FOUND', `no route ${url.pathname}`);
      // Discovery, without a token (the real client asks without one).
      if (parts.length === 2 || (parts.length === 3 && parts[2] === 'discovery')) {
        allowOnly(request.method)(['GET']);
        return json(200, discovery(version));
      }
      const identity = identify(request, tokens);
      const own = serviceOf(identity);
      const ctx = {
        own,
        global: () => (identity.tenant === null ? null : serviceOf({ ...identity, tenant: null })),
        limits,
        allow: allowOnly(request.method),
        globalOrg,
        identity,
      };
      if (parts[2] === 'metadata') return await adr(request, url, parts.slice(3), ctx);
      if (upstream) return await meta(request, url, parts.slice(3), ctx);
      throw new HttpError(404, 'NOT_FOUND', `no route ${url.pathname}`);
    } catch (error) {
      if (!(error instanceof Error) || (error.name !== 'MetadataError' && !(error instanceof HttpError))) {
        // Not ours: a bug, reported without its internals.
        return json(500, { error: 'internal error', code: 'INTERNAL_ERROR' });
      }
      if (error.status === 405) return errorResponse(error);
      return upstream ? upstreamErrorResponse(error) : errorResponse(error);
    }
  }

  return {
    /** Answers one request. Never rejects: failures are JSON error answers. */
    fetch: (request) => route(request),
    /** Whether the handler runs without tokens (one anonymous developer). */
    development: tokens === null,
    close() {
      serviceOf.clear();
    },
  };
}
