// Bundling one project module with esbuild, against the project's own
// installed packages.

import { isBuiltin } from 'node:module';
import { join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { metadataError } from './errors.js';

/** esbuild, an optional peer dependency: UNSUPPORTED when it is missing. */
export async function loadEsbuild() {
  try {
    return await import('esbuild');
  } catch (cause) {
    const error = metadataError(
      'UNSUPPORTED',
      'loading TypeScript / JavaScript metadata needs the esbuild package (an optional peer dependency): npm install esbuild',
    );
    error.cause = cause;
    throw error;
  }
}

const RESOLVING = { resolving: true };

// Packages imported by the project's modules stay out of the bundle: they
// are resolved here, from the project folder (then nodePaths), and imported
// by file URL in the worker, so every file shares one copy of each package,
// the project's own installed version. Packages shipped as TypeScript
// sources, and require() calls, are bundled instead.
const packagesByUrl = {
  name: 'objectstack-metadata-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === RESOLVING) return undefined;
      if (isBuiltin(args.path)) return { path: args.path, external: true };
      if (args.kind !== 'import-statement' && args.kind !== 'dynamic-import') return undefined;
      const found = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: RESOLVING,
      });
      if (found.errors.length > 0) return { errors: found.errors };
      if (!found.external && /\.[cm]?js$/.test(found.path) && found.path.split(sep).includes('node_modules')) {
        return { path: pathToFileURL(found.path).href, external: true };
      }
      return { path: found.path, namespace: found.namespace, external: found.external, sideEffects: found.sideEffects };
    });
  },
};

function describeBuildError(error, root) {
  const messages = Array.isArray(error?.errors) && error.errors.length > 0
    ? error.errors.slice(0, 3).map((m) => {
      const at = m.location
        ? `${relative(root, resolve(root, m.location.file)).split(sep).join('/')}:${m.location.line}:${m.location.column}: `
        : '';
      return `${at}${m.text}`;
    })
    : [String(error?.message ?? error)];
  return messages.join('; ');
}

function inside(folder, path) {
  return path === folder || path.startsWith(folder + sep);
}

/**
 * `{ code }`: `file` (relative to root) as one ES module, or `{ error }` when
 * it does not compile, imports what cannot be found, or imports a source
 * file from outside the project folder. Never rejects.
 */
export async function bundle(esbuild, root, file, nodePaths) {
  try {
    const result = await esbuild.build({
      entryPoints: [join(root, file)],
      absWorkingDir: root,
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node.split('.')[0]}`,
      metafile: true,
      logLevel: 'silent',
      nodePaths,
      plugins: [packagesByUrl],
    });
    // Sources come from the named folder only; packages from node_modules
    // folders (the project's or its parents') and from nodePaths.
    for (const input of Object.keys(result.metafile.inputs)) {
      if (/^[a-z-]+:/i.test(input)) continue; // a virtual module (an esbuild namespace)
      const path = resolve(root, input);
      const allowed = inside(root, path) || path.split(sep).includes('node_modules') || nodePaths.some((p) => inside(p, path));
      if (!allowed) return { error: `imports ${path} from outside the project folder` };
    }
    return { code: result.outputFiles[0].text };
  } catch (error) {
    return { error: describeBuildError(error, root) };
  }
}
