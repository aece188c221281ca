// The package's own JavaScript errors, shaped as the core raises them.

/**
 * An Error named MetadataError with a stable `code`, `details` (such as
 * `field`) as own properties and, when given, its `cause`.
 */
export function metadataError(code, message, details, cause) {
  const error = new Error(message, cause ? { cause } : undefined);
  error.name = 'MetadataError';
  error.code = code;
  if (details) Object.assign(error, details);
  return error;
}
