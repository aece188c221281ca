// Errors and refusals of the project loader.

import { metadataError } from '../errors.js';

export { metadataError };

/** A refusal of a file (or of one definition in it). */
export function refusal(file, fields) {
  return { file, export: null, type: null, name: null, path: null, ...fields };
}

/** One refusal as a line of text: file, export, JSON path, code, reason. */
export function formatRefusal(r) {
  const what = [r.file];
  if (r.export !== null) what.push(`export ${r.export}`);
  if (r.name !== null) what.push(`(${r.type} ${r.name})`);
  if (r.path !== null) what.push(`at ${r.path}`);
  return `${what.join(' ')}: ${r.code}: ${r.message}`;
}

/**
 * The error for a load with refusals: code `VALIDATION`, every refusal in
 * `refusals`, the first one in the message.
 */
export function refusalError(result) {
  const n = result.refusals.length;
  const more = n > 1 ? ` (and ${n - 1} more)` : '';
  return metadataError(
    'VALIDATION',
    `${n} definition(s) or file(s) refused in ${result.root}: ${formatRefusal(result.refusals[0])}${more}`,
    { refusals: result.refusals },
  );
}
