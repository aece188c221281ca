// Vite: a production build served as static files, and the dev server, each
// driven in Chromium (fixtures/web-app: IndexedDB on the page and in a worker).
import { describe, before, after } from 'node:test';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ok, project, serve, webAppTests } from './lib.mjs';

const dir = project('vite');

describe('Vite: production build (vite build), served as static files', () => {
  let server;
  let url;
  before(async () => {
    await ok('npx', ['--no-install', 'vite', 'build'], { cwd: dir });
    ({ server, url } = await serve(join(dir, 'dist')));
  });
  after(() => server?.close());
  webAppTests(() => url);
});

describe('Vite: dev server', () => {
  let child;
  let url;
  before(async () => {
    child = spawn(process.execPath, ['dev.mjs'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise((resolve, reject) => {
      let out = '';
      const seen = (d) => {
        out += d;
        const m = /^URL (\S+)$/m.exec(out);
        if (m) resolve(m[1]);
      };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
      child.on('exit', (code) => reject(new Error(`the dev server exited with ${code}\n${out}`)));
    });
  });
  after(() => {
    if (child && child.exitCode === null) child.kill('SIGTERM');
  });
  webAppTests(() => url);
});
