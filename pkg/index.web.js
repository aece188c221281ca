// Browser and bundler entry: fetches and instantiates the wasm module once,
// before any export is used.
import init from './web/objectstack_metadata.js';

await init({ module_or_path: new URL('./web/objectstack_metadata_bg.wasm', import.meta.url) });

export * from './web/objectstack_metadata.js';
