// Upstream ObjectStack's metadata routes, /api/v1/meta/..., as the real
// @objectstack/client 17.4 speaks them: bare JSON answers, versions as
// `sha256:` content hashes, `{ error, code }` bodies with upstream's codes.
// One thing better than upstream: the ETag of a read is the same version
// token If-Match takes, so a client can pin a write to what it read.
//
//   GET    /api/v1/meta[/types]                    { types }
//   GET    /api/v1/meta/:type                      { type, items }
//   GET    /api/v1/meta/:type/:name                { type, name, item }, ETag "sha256:…", 304
//   PUT    /api/v1/meta/:type/:name                { success, version, seq, state }, If-Match -> 409
//   DELETE /api/v1/meta/:type/:name                { success, reset, seq? }, If-Match -> 409
//   GET    /api/v1/meta/:type/:name/history        { events } (?sinceSeq exclusive, ?limit)

import { ANY, HttpError, countParam, empty, etag, json, readText, tagsOf } from './http.js';
import { BUILT_IN_TYPES as BUILT_IN, eventsOf, headVersion, versionOf } from '../upstream.js';

/** The discovery document (readable without a token). */
export function discovery(version) {
  return {
    name: 'ObjectStack metadata server',
    version,
    routes: { metadata: '/api/v1/meta', data: '/api/v1/data' },
  };
}

/** An error in upstream's flat shape: `{ error, code }` (and a message). */
export function upstreamError(status, code, message, headers = {}) {
  return new HttpError(status, code, message, {}, headers);
}

/** Upstream's bodies for the core's errors on these routes. */
export function upstreamErrorResponse(error) {
  switch (error.code) {
    case 'UNAUTHENTICATED':
      return json(401, { error: 'UNAUTHENTICATED', code: 'UNAUTHENTICATED', message: error.message }, error.headers ?? {});
    case 'FORBIDDEN':
      return json(403, { error: { code: 'FORBIDDEN', message: error.message } });
    case 'NOT_FOUND':
    case 'RESOURCE_NOT_FOUND':
      return json(404, { error: error.message, code: 'RESOURCE_NOT_FOUND' });
    case 'METADATA_CONFLICT':
    case 'CONFLICT':
      return json(409, { error: error.message, code: 'METADATA_CONFLICT' });
    default:
      return json(error.status ?? (error.code === 'VALIDATION' ? 400 : 500), { error: error.message, code: error.code ?? 'INTERNAL_ERROR' });
  }
}

function conflict(type, name, expected, current) {
  return upstreamError(409, 'METADATA_CONFLICT',
    `[metadata_conflict] ${type}/${name} has been modified since you loaded it. Expected parent ${expected ?? 'null'} but current is ${current ?? 'null'}.`);
}

/**
 * The parent version an If-Match names, as upstream reads it: its quotes
 * stripped, a star a version like any other (none has it).
 */
const pinOf = (request) => tagsOf(request.headers.get('if-match'))?.map((tag) => (tag === ANY ? '*' : tag)) ?? null;

function refuseDrafts(url) {
  if (url.searchParams.get('mode') === 'draft' || url.searchParams.get('state') === 'draft') {
    throw upstreamError(400, 'UNSUPPORTED', 'drafts are not supported by this server');
  }
}

/**
 * Handles /api/v1/meta/<rest> for the caller's service `own` (its org is
 * its tenant, or `globalOrg` for a global caller).
 */
export async function meta(request, url, rest, ctx) {
  const { own, limits, allow, globalOrg } = ctx;
  const [type, name, third, ...extra] = rest;
  if (extra.length > 0) throw upstreamError(404, 'RESOURCE_NOT_FOUND', `no route ${url.pathname}`);
  const org = own.tenant ?? globalOrg;

  if (type === undefined || (type === 'types' && name === undefined)) {
    allow(['GET']);
    const present = (await own.manifest()).map((e) => e.type);
    return json(200, { types: [...new Set([...BUILT_IN, ...present])].sort() });
  }
  if (name === undefined) {
    allow(['GET']);
    return json(200, { type, items: await own.loadMany(type) });
  }
  if (third !== undefined) {
    if (third !== 'history') throw upstreamError(404, 'RESOURCE_NOT_FOUND', `no route ${url.pathname}`);
    allow(['GET']);
    const since = countParam(url, 'sinceSeq', null);
    const limit = countParam(url, 'limit', null);
    let events = eventsOf(org, await own.history(type, name), 'metadata-wasm');
    if (since !== null) events = events.filter((e) => e.seq > since);
    if (limit !== null) events = events.slice(0, limit);
    return json(200, { events });
  }

  allow(['GET', 'PUT', 'DELETE']);
  switch (request.method) {
    case 'GET': {
      const found = await own.resolve(type, name);
      if (found.data === null) {
        if (found.degraded.length > 0) throw upstreamError(503, 'STORAGE_UNAVAILABLE', found.degraded[0].message);
        throw upstreamError(404, 'RESOURCE_NOT_FOUND', `Metadata item ${type}/${name} not found`);
      }
      const item = found.data;
      const version = versionOf(found.record ?? { checksum: null, data: item });
      const tags = tagsOf(request.headers.get('if-none-match'));
      if (tags?.includes(version)) return empty(304, { etag: etag(version) });
      return json(200, { type, name, item }, { etag: etag(version), 'cache-control': 'private, no-cache' });
    }
    case 'PUT': {
      refuseDrafts(url);
      const pin = pinOf(request);
      const text = await readText(request, limits.body);
      const head = await own.loadOwnRecord(type, name);
      const current = headVersion(head);
      const options = {};
      // A header naming no version pins to none: a conflict, not no pin.
      if (pin !== null) {
        if (pin[0] !== current) throw conflict(type, name, pin[0], current);
        // The version read: a writer in between is a conflict too.
        options.expectedVersion = head ? head.version : 0;
      }
      let outcome;
      try {
        outcome = await own.saveJson(type, name, text, options, 'upstream');
      } catch (error) {
        if (error?.code !== 'CONFLICT') throw error;
        throw conflict(type, name, pin?.[0] ?? null, headVersion(await own.loadOwnRecord(type, name)));
      }
      const version = versionOf(outcome.record);
      return json(200, {
        success: true,
        version,
        seq: outcome.record.seq,
        state: 'active',
        message: outcome.changed
          ? `Saved ${type} '${name}' [seq=${outcome.record.seq}]`
          : `${type} '${name}' is unchanged [seq=${outcome.record.seq}]`,
      }, { etag: etag(version) });
    }
    default: {
      refuseDrafts(url);
      const pin = pinOf(request);
      const head = await own.loadOwnRecord(type, name);
      const current = headVersion(head);
      if (pin !== null && pin[0] !== current) throw conflict(type, name, pin[0], current);
      if (current === null) {
        return json(200, { success: true, reset: false, message: `No ${type} '${name}' found — nothing to delete.` });
      }
      try {
        const outcome = await own.delete(type, name, { expectedVersion: head.version });
        return json(200, {
          success: true,
          reset: true,
          seq: outcome.record.seq,
          message: `Deleted ${type} '${name}' — it no longer exists. [seq=${outcome.record.seq}]`,
        });
      } catch (error) {
        if (error?.code !== 'CONFLICT') throw error;
        throw conflict(type, name, pin?.[0] ?? current, headVersion(await own.loadOwnRecord(type, name)));
      }
    }
  }
}
