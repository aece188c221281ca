// HTTP plumbing of the server: JSON answers, error bodies and statuses,
// bodies read with a size limit, entity tags.

/** The status of each of the core's error codes on the ADR routes. */
export const STATUS_OF = {
  VALIDATION: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  CORRUPTED: 500,
  STORAGE_ERROR: 500,
  UNSUPPORTED: 501,
  HOST_CALLBACK_FAILED: 502,
  STORAGE_UNAVAILABLE: 503,
  QUOTA_EXCEEDED: 507,
};

/** An error the server raises itself, with a code and a status. */
export class HttpError extends Error {
  constructor(status, code, message, details = {}, headers = {}) {
    super(message);
    this.name = 'MetadataError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }
}

/**
 * The query parameter `key` of `url` as a non-negative integer, or
 * `fallback` when it is absent; anything else (a sign, a fraction, an
 * exponent, letters, nothing, the parameter given twice) is 400
 * VALIDATION naming it. A count past what the store can hold means as
 * many as there are.
 */
export function countParam(url, key, fallback) {
  const values = url.searchParams.getAll(key);
  if (values.length === 0) return fallback;
  if (values.length > 1 || !/^\d+$/.test(values[0])) {
    throw new HttpError(400, 'VALIDATION', `${key} is a non-negative integer, given once`, { field: key });
  }
  return Number(values[0]);
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** A JSON answer; `text` may be given already serialised. */
export function json(status, body, headers = {}) {
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': JSON_TYPE, 'cache-control': 'no-store', ...headers },
  });
}

/** An answer with no body (304). */
export function empty(status, headers = {}) {
  return new Response(null, { status, headers });
}

const DETAIL_FIELDS = ['key', 'expected', 'actual', 'actualVersion', 'field', 'operation', 'type', 'permission', 'index', 'layer', 'detail'];

/** The ADR routes' error body: `{ error, code, ...details }`. */
export function errorBody(error) {
  const body = { error: error.message, code: error.code ?? 'STORAGE_ERROR' };
  for (const field of DETAIL_FIELDS) {
    if (error[field] !== undefined && error[field] !== null) body[field] = error[field];
  }
  if (error.details) Object.assign(body, error.details);
  return body;
}

/** The answer for an error thrown while handling a request. */
export function errorResponse(error) {
  const status = error.status ?? STATUS_OF[error.code] ?? 500;
  return json(status, errorBody(error), error.headers ?? {});
}

/**
 * The request's body as text, refused with 413 once it passes `limit`
 * bytes: by its Content-Length before anything is read, and while reading
 * otherwise. Invalid UTF-8 is 400.
 */
export async function readText(request, limit) {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is ${declared} bytes; at most ${limit} are accepted`, {}, { connection: 'close' });
  }
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      // Not read further; the connection is closed after the answer.
      reader.releaseLock();
      throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body passes ${limit} bytes, the most accepted`, {}, { connection: 'close' });
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, 'VALIDATION', 'the body is not valid UTF-8');
  }
}

/** A JSON body parsed (for small control bodies, not definitions). */
export async function readJson(request, limit) {
  const text = await readText(request, limit);
  try {
    return text === '' ? {} : JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'VALIDATION', `the body is not JSON: ${error.message}`);
  }
}

/** An entity tag, quoted. */
export const etag = (value) => `"${value}"`;

/** A bare `*` in an If-Match / If-None-Match header: any version. */
export const ANY = Symbol('any entity tag');

/**
 * The tags of an If-Match / If-None-Match header, unquoted (weak or not,
 * or `weak` in place of each weak tag where given: strong comparison
 * matches a weak tag with nothing); ANY for a bare star (a quoted `"*"`
 * is a tag named `*`, which no record has); null when the header is
 * absent. Unquoted tags are taken as they are, as upstream's client sends
 * them.
 */
export function tagsOf(header, { weak } = {}) {
  if (header === null || header === undefined) return null;
  const out = [];
  for (const part of header.split(',')) {
    let tag = part.trim();
    if (tag === '') continue;
    if (tag === '*') {
      out.push(ANY);
      continue;
    }
    if (tag.startsWith('W/')) {
      if (weak !== undefined) {
        out.push(weak);
        continue;
      }
      tag = tag.slice(2);
    }
    if (tag.length >= 2 && tag.startsWith('"') && tag.endsWith('"')) tag = tag.slice(1, -1);
    out.push(tag);
  }
  return out;
}
