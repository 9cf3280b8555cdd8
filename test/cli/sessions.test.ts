/**
 * `tessera sessions list|show|revoke|revoke-user` and `tessera stats`, run as a child process on
 * each store the app writes to — a SQLite file, a store folder, PostgreSQL, Redis — with the
 * sessions made by a Tessera in the test, under the same secret.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { AdminSession, AdminStats } from '../../src/admin.js';
import { Tessera } from '../../src/manager.js';
import type { SessionStore } from '../../src/stores/store.js';
import { tessera, tesseraJson } from '../helpers/cli.js';
import { STORE_KINDS, dropAll, type CliStore } from '../helpers/cli-stores.js';

const SECRET = 'cli-test-secret-0123456789abcdefghijklmnop';
const ENV = { TESSERA_SECRETS: SECRET };
const DAY = 86_400_000;
const TAB = 'tabCLIAAAAAAAAAAAAAAAA';

after(dropAll);

/** The app's side: a Tessera on the store, as the app would make it. */
function app(place: CliStore, options: { encryptData?: boolean; now?: () => number; idleTimeout?: number } = {}): Tessera {
  return new Tessera({ secrets: [SECRET], store: place.open(), cleanupInterval: 0, logger: {}, csrf: false, ...options });
}

/** Four sessions: two of u1 in tenant acme, one of u2, one signed out; their handles. */
async function populate(t: Tessera): Promise<{ u1: string[]; u2: string; anonymous: string }> {
  const make = async (options: Parameters<Tessera['create']>[0]) => (await t.create(options)).session.handle;
  const u1 = [
    await make({ userId: 'u1', tenant: 'acme', ip: '203.0.113.1', userAgent: 'Firefox/140', data: { n: 1 } }),
    await make({ userId: 'u1', tenant: 'acme', ip: '203.0.113.2', userAgent: 'Safari/19', data: { n: 2 } }),
  ];
  const u2 = await make({ userId: 'u2', ip: '198.51.100.7', userAgent: 'curl/8.11', data: { n: 3 } });
  const anonymous = await make({ data: { cart: ['x'] } });
  return { u1, u2, anonymous };
}

for (const kind of STORE_KINDS) {
  describe(`tessera sessions on ${kind.name}`, { skip: kind.skip }, () => {
    it('lists sessions with their metadata, filtered by user, tenant and recent activity, as a table and as JSON', async () => {
      const place = kind.fresh();
      const t = app(place);
      try {
        const { u1, u2, anonymous } = await populate(t);
        const store = place.url;

        const all = await tesseraJson<{ sessions: AdminSession[]; next: string | null }>(['sessions', 'list', '--store', store, '--json'], ENV);
        assert.deepEqual(all.sessions.map((s) => s.handle).sort(), [...u1, u2, anonymous].sort());
        assert.equal(all.next, null);
        const alice = all.sessions.find((s) => s.handle === u2)!;
        assert.equal(alice.userId, 'u2');
        assert.equal(alice.ip, '198.51.100.7');
        assert.equal(alice.userAgent, 'curl/8.11');
        assert.equal(alice.tenant, null);

        const byUser = await tesseraJson<{ sessions: AdminSession[] }>(['sessions', 'list', '-s', store, '--user', 'u1', '--json'], ENV);
        assert.deepEqual(byUser.sessions.map((s) => s.handle).sort(), [...u1].sort());
        const byTenant = await tesseraJson<{ sessions: AdminSession[] }>(['sessions', 'list', '-s', store, '--tenant', 'acme', '--json'], ENV);
        assert.deepEqual(byTenant.sessions.map((s) => s.handle).sort(), [...u1].sort());

        // One tab of u2's session was active a minute ago; the others never.
        await (t.store as SessionStore).recordActivity!(u2, TAB, Date.now() - 60_000, Date.now() + DAY, { now: Date.now() });
        const active = await tesseraJson<{ sessions: AdminSession[] }>(['sessions', 'list', '-s', store, '--active-since', '5m', '--json'], ENV);
        assert.deepEqual(active.sessions.map((s) => s.handle), [u2]);
        assert.deepEqual(Object.keys(active.sessions[0]!.tabs), [TAB]);

        // Pages: two at a time, the rest on the next page through the printed cursor.
        const first = await tesseraJson<{ sessions: AdminSession[]; next: string | null }>(['sessions', 'list', '-s', store, '--limit', '2', '--json'], ENV);
        assert.equal(first.sessions.length, 2);
        assert.notEqual(first.next, null);
        const second = await tesseraJson<{ sessions: AdminSession[]; next: string | null }>(['sessions', 'list', '-s', store, '--limit', '2', '--cursor', first.next!, '--json'], ENV);
        assert.deepEqual([...first.sessions, ...second.sessions].map((s) => s.handle).sort(), [...u1, u2, anonymous].sort(), 'two pages, each session once');
        const every = await tesseraJson<{ sessions: AdminSession[] }>(['sessions', 'list', '-s', store, '--limit', '2', '--all', '--json'], ENV);
        assert.equal(every.sessions.length, 4);
        const paged = await tessera(['sessions', 'list', '-s', store, '--limit', '2'], ENV);
        assert.match(paged.stderr, /^more: tessera sessions list … --cursor '[^']+' \(or --all\)$/m);

        const table = await tessera(['sessions', 'list', '--store', store, '--user', 'u1'], ENV);
        assert.equal(table.code, 0, table.stderr);
        const lines = table.stdout.trimEnd().split('\n');
        assert.match(lines[0]!, /^HANDLE\s+USER\s+TENANT\s+IP\s+LAST SEEN\s+LAST ACTIVE\s+EXPIRES\s+USER AGENT$/);
        assert.equal(lines.length, 3);
        for (const handle of u1) assert.ok(lines.some((l) => l.startsWith(`${handle} `) && /\bu1\s+acme\b/.test(l)), `${handle} listed`);
      } finally {
        await t.close();
      }
    });

    it('shows a session by handle with the expiry its record holds, revokes it, and revokes all of a user\'s', async () => {
      const place = kind.fresh();
      const t = app(place);
      try {
        const { u1, u2 } = await populate(t);
        const store = place.url;
        const recorded = (await (t.store as SessionStore).get(u2, { now: Date.now() }))!.expiresAt;

        const shown = await tesseraJson<AdminSession>(['sessions', 'show', u2, '--store', store, '--json'], ENV);
        assert.equal(shown.handle, u2);
        assert.equal(shown.userId, 'u2');
        assert.equal(shown.expiresAt, recorded);
        const text = await tessera(['sessions', 'show', u2, '--store', store], ENV);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /^handle\s+\S+$/m);
        assert.match(text.stdout, /^user agent\s+curl\/8\.11$/m);
        assert.match(text.stdout, new RegExp(`^expires\\s+${new Date(recorded).toISOString().slice(0, 19)}Z$`, 'm'));

        const revoked = await tessera(['sessions', 'revoke', u2, '--store', store], ENV);
        assert.equal(revoked.code, 0, revoked.stderr);
        assert.equal(revoked.stdout, `revoked ${u2}\n`);
        assert.equal(await t.admin.show(u2), null, 'the session is gone for the app');
        const again = await tessera(['sessions', 'show', u2, '--store', store], ENV);
        assert.equal(again.code, 3);
        assert.match(again.stderr, /no live session with the handle/);
        const twice = await tessera(['sessions', 'revoke', u2, '--store', store], ENV);
        assert.equal(twice.code, 3);

        const byUser = await tesseraJson<{ revoked: number }>(['sessions', 'revoke-user', 'u1', '--store', store, '--json'], ENV);
        assert.equal(byUser.revoked, 2);
        for (const handle of u1) assert.equal(await t.admin.show(handle), null);
        const none = await tessera(['sessions', 'revoke-user', 'u1', '--store', store], ENV);
        assert.equal(none.code, 0);
        assert.equal(none.stdout, 'revoked 0 sessions of "u1"\n');
      } finally {
        await t.close();
      }
    });

    it('counts sessions, users and tenants', async () => {
      const place = kind.fresh();
      const t = app(place);
      try {
        await populate(t);
        const stats = await tesseraJson<AdminStats>(['stats', '--store', place.url, '--json'], ENV);
        assert.deepEqual(
          { sessions: stats.sessions, signedIn: stats.signedIn, users: stats.users, byTenant: stats.byTenant },
          { sessions: 4, signedIn: 3, users: 2, byTenant: { acme: 2, '': 2 } },
        );
        const text = await tessera(['stats', '--store', place.url, '--tenant', 'acme'], ENV);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /^sessions\s+2$/m);
        assert.match(text.stdout, /^users\s+1$/m);
      } finally {
        await t.close();
      }
    });
  });
}

describe('tessera sessions, as the app configures them', () => {
  const sqlite = STORE_KINDS.find((k) => k.name === 'sqlite')!;

  it('lists a session the app keeps longer than the default lifetimes, with the app\'s expiry', async () => {
    const place = sqlite.fresh();
    // Last seen three days ago by an app whose sessions live 30 days idle: the CLI, which knows
    // none of that, must neither hide it nor make up an expiry.
    const t = app(place, { now: () => Date.now() - 3 * DAY, idleTimeout: 30 * DAY });
    try {
      const { session } = await t.create({ userId: 'u1' });
      const shown = await tesseraJson<AdminSession>(['sessions', 'show', session.handle, '--store', place.url, '--json'], ENV);
      assert.equal(shown.userId, 'u1');
      assert.equal(shown.expiresAt, (await (t.store as SessionStore).get(session.handle, { now: Date.now() }))!.expiresAt);
    } finally {
      await t.close();
    }
  });

  it('shows what a client sent (its user agent) without the control characters that would drive the terminal', async () => {
    const place = sqlite.fresh();
    const t = app(place);
    try {
      const { session } = await t.create({ userId: 'u1', userAgent: 'evil\x1b[2J\x1b]0;owned\x07/1.0' });
      for (const args of [['sessions', 'list'], ['sessions', 'show', session.handle]]) {
        const run = await tessera([...args, '--store', place.url], ENV);
        assert.equal(run.code, 0, run.stderr);
        assert.doesNotMatch(run.stdout, /[\x00-\x08\x0b-\x1f\x7f]/, args.join(' '));
        assert.match(run.stdout, /evil\?\[2J\?\]0;owned\?\/1\.0/);
      }
      // JSON keeps the text as it is, escaped by JSON itself.
      const json = await tesseraJson<AdminSession>(['sessions', 'show', session.handle, '--store', place.url, '--json'], ENV);
      assert.equal(json.userAgent, 'evil\x1b[2J\x1b]0;owned\x07/1.0');
    } finally {
      await t.close();
    }
  });

  it('reads sessions encrypted at rest with --encrypt-data and the app\'s secrets, and says what is missing otherwise', async () => {
    const place = sqlite.fresh();
    const t = app(place, { encryptData: true });
    try {
      const { session } = await t.create({ userId: 'u9', ip: '192.0.2.1' });
      const list = ['sessions', 'list', '--store', place.url, '--json'];

      const withoutFlag = await tessera(list, ENV);
      assert.equal(withoutFlag.code, 2);
      assert.match(withoutFlag.stderr, /encrypted at rest .*pass --encrypt-data/);

      const read = await tesseraJson<{ sessions: AdminSession[] }>([...list, '--encrypt-data'], ENV);
      assert.deepEqual(read.sessions.map((s) => [s.handle, s.userId, s.ip]), [[session.handle, 'u9', '192.0.2.1']]);
      // During a rotation: a new secret first, the app's after it.
      const rotated = await tesseraJson<{ sessions: AdminSession[] }>([...list, '--encrypt-data'], { TESSERA_SECRETS: `${'n'.repeat(40)}, ${SECRET}` });
      assert.equal(rotated.sessions.length, 1);

      const noSecret = await tessera([...list, '--encrypt-data']);
      assert.equal(noSecret.code, 2);
      assert.match(noSecret.stderr, /TESSERA_SECRETS is not set/);
      const wrongSecret = await tessera([...list, '--encrypt-data'], { TESSERA_SECRETS: 'w'.repeat(40) });
      assert.equal(wrongSecret.code, 2);
      assert.match(wrongSecret.stderr, /TESSERA_SECRETS does not open the session data/);
      const shortSecret = await tessera([...list, '--encrypt-data'], { TESSERA_SECRETS: 'short' });
      assert.equal(shortSecret.code, 2);
      assert.match(shortSecret.stderr, /at least 32/);
    } finally {
      await t.close();
    }
  });
});
