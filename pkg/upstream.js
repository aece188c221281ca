// What upstream ObjectStack's protocol calls things, computed from this
// package's records: `sha256:` content hashes as versions, and a record's
// history as upstream's MetadataEvents (op, hash, parentHash lineage).
// Shared by the repository adapter and the server's /api/v1/meta routes.
import { contentHash } from '@objectstack/metadata-wasm';

// Content hashes by checksum: the same content has the same hash, and the
// checksum is at hand in every record, so each distinct body is hashed once.
const hashes = new Map();
const HASHES_KEPT = 4096;

/** The `sha256:` content hash (upstream's hashSpec) of a record's data. */
export function versionOf(record) {
  if (!record.checksum) return contentHash(record.data);
  const known = hashes.get(record.checksum);
  if (known !== undefined) return known;
  const hash = contentHash(record.data);
  if (hashes.size >= HASHES_KEPT) hashes.delete(hashes.keys().next().value);
  hashes.set(record.checksum, hash);
  return hash;
}

/** A head's version token: its hash while active, null when deleted or absent. */
export function headVersion(record) {
  return record && record.is_active ? versionOf(record) : null;
}

// Upstream's operation for one of our history entries, given the entry
// before it: a new lineage starts at a create, a restore, or an import or
// rollback over nothing active.
function opOf(entry, previous) {
  const lineage = previous?.is_active === true;
  switch (entry.operation) {
    case 'delete':
    case 'purge':
      return 'delete';
    case 'rollback':
      return lineage ? 'revert' : 'create';
    case 'update':
    case 'import':
      return lineage ? 'update' : 'create';
    default:
      return 'create';
  }
}

/**
 * A record's history (oldest first) as upstream MetadataEvents, each with
 * the entry it came from under a non-enumerable `entry`.
 */
export function eventsOf(org, entries, source = 'metadata-wasm') {
  const out = [];
  let previous = null;
  let previousHash = null;
  for (const entry of entries) {
    const op = opOf(entry, previous);
    const hash = entry.is_active ? versionOf(entry) : null;
    const event = {
      seq: entry.seq,
      op,
      ref: { org, type: entry.type, name: entry.name },
      hash,
      parentHash: op === 'create' ? null : previousHash,
      version: entry.version,
      actor: entry.actor,
      ts: entry.timestamp,
      source,
    };
    Object.defineProperty(event, 'entry', { value: entry, enumerable: false });
    out.push(event);
    previous = entry;
    previousHash = hash;
  }
  return out;
}

/** Upstream's built-in metadata types (discovery lists them; the ADR routes take their plurals). */
export const BUILT_IN_TYPES = Object.freeze(['object', 'field', 'hook', 'mapping', 'view', 'page', 'dashboard', 'app', 'action', 'flow', 'workflow',
  'job', 'agent', 'tool', 'skill', 'report', 'translation', 'role', 'profile', 'permission', 'policy', 'api', 'endpoint',
  'datasource', 'cube', 'settings', 'email_template']);
