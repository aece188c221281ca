// webpack 5: a production build through its Node API with no wasm-specific
// configuration, served as static files and driven in Chromium.
import { describe, before, after } from 'node:test';
import { join } from 'node:path';
import { ok, project, serve, webAppTests } from './lib.mjs';

const dir = project('webpack');

describe('webpack 5: production build, served as static files', () => {
  let server;
  let url;
  before(async () => {
    await ok(process.execPath, ['build.mjs'], { cwd: dir });
    ({ server, url } = await serve(join(dir, 'dist')));
  });
  after(() => server?.close());
  webAppTests(() => url);
});
