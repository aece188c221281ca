// The metadata server: the ADR's /api/v1/metadata routes and upstream
// ObjectStack's /api/v1/meta routes over one MetadataService, bearer
// tokens mapped to actor, roles and tenant, and a resumable change stream.
//
//   import { createHandler, listen } from '@objectstack/metadata-wasm/server';
//   const handler = createHandler({ service, tokens });
//   const { url } = await listen(handler, { port: 3000 });

export { createHandler, DEFAULT_LIMITS } from './server/handler.js';
export { listen, nodeListener, isLoopback } from './server/node.js';
