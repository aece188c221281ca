// Upstream's repository contract suite runs under vitest (its testing entry
// imports vitest), from this folder only.
export default {
  test: {
    include: ['*.test.mjs'],
    testTimeout: 20000,
  },
};
