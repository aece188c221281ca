// The examples the README points to run and say what they show: the Node
// demo on SQLite (`./scripts/run --node`) and the Rust fallback chain
// (`cargo run --example chain`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// The checksum of {"b":1,"a":2}, upstream's as ours.
const SUM = '620a7530f307c3f3f111d443a4109815';

test('the Node demo imports, edits, conflicts, rolls back, exports and verifies', () => {
  const work = mkdtempSync(join(tmpdir(), 'node-demo-'));
  try {
    const out = execFileSync('node', [join(root, 'examples', 'node-demo.mjs'), work], { cwd: root, encoding: 'utf8' });
    assert.match(out, /saveMany: 52 platform objects/);
    assert.match(out, /stale save with the old expectedVersion\s+CONFLICT/);
    assert.match(out, /same data saved again\s+v2 \(changed: false\)/);
    assert.match(out, /history v3\s+rollback/);
    assert.match(out, /tenant acme sees its override\s+Acme accounts/);
    assert.match(out, new RegExp(`checksum\\(\\) of \\{"b":1,"a":2\\}\\s+${SUM}`));
    assert.match(out, /cli verify\s+verified 55 rows: 0 mismatch\(es\)/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('the Rust example walks the fallback chain', () => {
  const out = execFileSync('cargo', ['run', '--quiet', '--example', 'chain'], { cwd: root, encoding: 'utf8' });
  assert.match(out, /load app\/crm\s+-> filesystem \{"label":"CRM \(file\)"\}/);
  assert.match(out, /events: #1 create view\/all_accounts v1, #2 update view\/all_accounts v2, #3 rollback view\/all_accounts v3, #4 delete view\/all_accounts v4/);
  assert.match(out, new RegExp(`checksum of \\{"b":1,"a":2\\}: ${SUM}`));
});
