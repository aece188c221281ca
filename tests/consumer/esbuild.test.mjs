// esbuild: a bundle of the page and the worker, plus the one step esbuild
// needs (copying the .wasm file next to the bundle), driven in Chromium.
import { describe, before, after } from 'node:test';
import { join } from 'node:path';
import { ok, project, serve, webAppTests } from './lib.mjs';

const dir = project('esbuild');

describe('esbuild: bundle with the .wasm file copied beside it, served as static files', () => {
  let server;
  let url;
  before(async () => {
    await ok(process.execPath, ['build.mjs'], { cwd: dir });
    ({ server, url } = await serve(join(dir, 'dist')));
  });
  after(() => server?.close());
  webAppTests(() => url);
});
