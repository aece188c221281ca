// Node entry: the wasm module loads synchronously on import.
export * from './node/objectstack_metadata.js';
