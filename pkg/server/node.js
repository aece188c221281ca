// node:http in front of the Fetch-API handler: requests become Request
// objects (their bodies streamed, so a body over the limit is refused
// before it is read whole), Responses are written back as they stream (the
// change stream), and the server has timeouts for slow or stalled clients.

import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { metadataError } from '../errors.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Whether `host` is a loopback address. */
export const isLoopback = (host) => LOOPBACK.has(host) || /^127\./.test(host);

function toRequest(req, origin) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  const init = { method: req.method, headers };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    init.body = Readable.toWeb(req);
    init.duplex = 'half';
  }
  return new Request(new URL(req.url ?? '/', origin), init);
}

async function send(response, res) {
  const headers = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  // A client that goes away ends the stream (and its subscriptions).
  res.on('close', () => {
    reader.cancel().catch(() => {});
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise((resolve) => res.once('drain', resolve));
    }
  } catch {
    // Cancelled because the client left: nothing to answer.
  }
  res.end();
}

/**
 * A node:http request listener over `handler` (anything with
 * `fetch(request)`), for `createServer(nodeListener(handler))` or an
 * Express `app.use('/api', ...)`.
 */
export function nodeListener(handler, { origin = 'http://localhost' } = {}) {
  return (req, res) => {
    let request;
    try {
      request = toRequest(req, origin);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' });
      res.end('{"error":"malformed request","code":"VALIDATION"}');
      return;
    }
    handler.fetch(request).then((response) => send(response, res), () => {
      res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      res.end('{"error":"internal error","code":"INTERNAL_ERROR"}');
    });
  };
}

/**
 * Serves `handler` on `host:port` (port 0: a free one). A handler without
 * tokens (development mode) serves loopback addresses only. Resolves to
 * `{ server, url, close() }` once it accepts connections.
 */
export function listen(handler, options = {}) {
  const { port = 0, host = '127.0.0.1', listener } = options;
  if (handler.development && !isLoopback(host)) {
    return Promise.reject(metadataError(
      'VALIDATION',
      `without tokens the server runs in development mode, which listens on loopback addresses only, not ${host}`,
      { field: 'host' },
    ));
  }
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  // Slow or stalled clients: headers within 10 s, a whole request within
  // 60 s, checked every second (Node checks every 30 s by default).
  const server = createServer(
    { headersTimeout, requestTimeout: options.requestTimeoutMs ?? 60_000, connectionsCheckingInterval: Math.min(1000, headersTimeout) },
    listener ?? nodeListener(handler),
  );
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 100;
  server.maxConnections = options.maxConnections ?? 1024;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const url = `http://${shown}:${address.port}`;
      resolve({
        server,
        url,
        close: () => new Promise((done) => {
          server.closeAllConnections?.();
          server.close(() => done());
        }),
      });
    });
  });
}
