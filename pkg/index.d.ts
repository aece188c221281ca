// Types of the package: the same API on Node and in browsers.
export * from './node/objectstack_metadata.js';
