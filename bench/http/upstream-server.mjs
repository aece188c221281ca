// Child process of bench/http-bench.mjs: upstream ObjectStack 17.4's own
// server stack, composed from its public packages the way its own
// integration suites compose it: an ObjectKernel with ObjectQL (protocol
// assembly delegated to metadata-protocol's plugin), the sqlite-wasm driver
// on a file, the Hono HTTP server and the REST API. Tells the parent its
// port over IPC; stops on SIGTERM.
//
//   node bench/http/upstream-server.mjs <database file> <corpus file>
//
// Identity is stubbed, and only identity:
//   * an `auth` service whose session is always one fixed user (the shape
//     upstream's own client-over-Hono suite registers);
//   * that user is a platform administrator through upstream's own
//     configuration, OS_PLATFORM_OWNER_EMAIL naming a verified sys_user row,
//     which grants admin_full_access and with it `manage_metadata`;
//   * the identity tables upstream's authorization reads on every request
//     (sys_user, sys_member, sys_setting as upstream defines them, in the
//     corpus; sys_position, sys_user_position, sys_user_permission_set with
//     the few columns it queries) exist, empty but for that user, as in a
//     deployment. Without them each request logs four refused reads.
// Everything else (authorization, validation, persistence) is upstream's own.

const ADMIN = { id: 'bench_admin', email: 'admin@bench.test' };
process.env.OS_PLATFORM_OWNER_EMAIL = ADMIN.email;

const { readFileSync } = await import('node:fs');
const { ObjectKernel, DriverPlugin } = await import('@objectstack/runtime');
const { createRestApiPlugin } = await import('@objectstack/rest');
const { createMetadataProtocolPlugin } = await import('@objectstack/metadata-protocol');
const { ObjectQLPlugin } = await import('@objectstack/objectql');
const { SqliteWasmDriver } = await import('@objectstack/driver-sqlite-wasm');
const { HonoServerPlugin } = await import('@objectstack/plugin-hono-server');

const [dbFile, corpusFile] = process.argv.slice(2);
const corpus = JSON.parse(readFileSync(corpusFile, 'utf8'));

const kernel = new ObjectKernel();
await kernel.use(new ObjectQLPlugin({ registerProtocol: false }));
await kernel.use(createMetadataProtocolPlugin());
// The driver's default persistence ('on-disconnect'): sql.js keeps the
// database in memory and writes the file when the driver disconnects.
await kernel.use(new DriverPlugin(new SqliteWasmDriver({ filename: dbFile }), 'sqlite-wasm'));
await kernel.use({
  name: 'bench.identity-stub',
  version: '1.0.0',
  async init(ctx) {
    const session = { user: { ...ADMIN }, session: { id: 'bench_session', userId: ADMIN.id } };
    ctx.registerService('auth', { api: { getSession: async () => session } });
  },
});
await kernel.use(new HonoServerPlugin({ port: 0 }));
await kernel.use(createRestApiPlugin());
await kernel.bootstrap();

const ql = kernel.getService('objectql');
const text = (label) => ({ type: 'text', label });
const identityTables = [
  ...['sys_user', 'sys_member', 'sys_setting'].map((name) => corpus.find((o) => o.type === 'object' && o.name === name).data),
  { name: 'sys_position', label: 'Position', fields: { name: text('Name') } },
  { name: 'sys_user_position', label: 'User position', fields: { user_id: text('User'), position: text('Position'), organization_id: text('Organization') } },
  { name: 'sys_user_permission_set', label: 'User permission set', fields: { user_id: text('User'), permission_set_id: text('Permission set'), organization_id: text('Organization') } },
];
for (const definition of identityTables) {
  ql.registerObject(definition);
  await ql.syncObjectSchema(definition.name);
}
await ql.insert('sys_user', { ...ADMIN, name: 'Bench admin', email_verified: true }, { context: { isSystem: true } });

process.once('SIGTERM', async () => {
  // Upstream's own suites bound the kernel's shutdown the same way.
  await Promise.race([kernel.shutdown(), new Promise((resolve) => setTimeout(resolve, 5000))]);
  process.exit(0);
});
// The parent asks for this process's CPU time around each measurement.
process.on('message', (m) => {
  if (m === 'cpu') process.send({ cpu: process.cpuUsage() });
});
process.send({ port: kernel.getService('http.server').getPort() });
