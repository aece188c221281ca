// The name a definition in a project is registered under, shared by the
// project loader and its worker (no wasm here: the worker stays light).

/**
 * Its own string `name`; a view container (`defineView({ list, form, ... })`)
 * has none and is named after the object it serves, as upstream's registry
 * names it. Null for anything else.
 */
export function definitionName(value, type) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  if (typeof value.name === 'string') return value.name;
  if (type === 'view') {
    for (const candidate of [value.object, value.list?.data?.object, value.form?.data?.object]) {
      if (typeof candidate === 'string') return candidate;
    }
  }
  return null;
}
