/**
 * `migrateFrom` (src/adapters/express/migrate.ts): an app that ran express-session switches to
 * tessera without signing anyone out. The old sessions are made by the real express-session on
 * Express, in the real connect-redis 9 (with the `redis` v5 client) and connect-pg-simple against
 * the local Redis and PostgreSQL; the new app is tessera's middleware with `migrateFrom` pointed at
 * that same store, and tessera's own Redis / PostgreSQL store. Each test is what a user of the
 * migrated app would see in the browser, and what an operator would see in the stores.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import express from 'express';
import expressSession from 'express-session';
import { RedisStore as ConnectRedis } from 'connect-redis';
import connectPgSimple from 'connect-pg-simple';
import pg from 'pg';
import { createClient } from 'redis';
import session, { tesseraSession, type ExpressSessionOptions, type ExpressSessionStore, type MigrateFromOptions } from '../../../src/adapters/express.js';
import { ConfigError } from '../../../src/errors.js';
import { CookieStore } from '../../../src/stores/cookie.js';
import { MemoryStore } from '../../../src/stores/memory.js';
import { PostgresStore } from '../../../src/stores/postgres.js';
import { RedisStore } from '../../../src/stores/redis.js';
import type { SessionStore } from '../../../src/stores/store.js';
import { FakeClock } from '../../helpers/clock.js';
import { parseExposition } from '../../helpers/prometheus.js';
import { PG_URL, REDIS_URL, serviceSkip } from '../../helpers/services.js';

declare module '../../../src/adapters/express.js' {
  interface SessionData {
    passport: { user: string };
    basket: string[];
  }
}

const NEW_SECRET = 'tessera-migration-test-new-secret-0123456789';
/** express-session's secrets: the first signs, both verify (the old app rotated once). */
const OLD_SECRETS = ['keyboard cat', 'an older keyboard cat'];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TESSERA_COOKIE = /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/;
const RUN = `${process.pid}_${randomUUID().slice(0, 8)}`;

/** cookie-signature's `sign`, which express-session signs its cookie with. */
const sign = (value: string, secret: string): string => `${value}.${createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '')}`;

const servers: Server[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

async function listen(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Reply {
  status: number;
  body: string;
  setCookies: string[];
  headers: Headers;
}

async function request(base: string, path: string, cookie?: string, method = 'GET'): Promise<Reply> {
  const headers: Record<string, string> = cookie ? { cookie } : {};
  if (method !== 'GET') headers['sec-fetch-site'] = 'same-origin';
  const res = await fetch(base + path, { method, headers, redirect: 'manual' });
  return { status: res.status, body: await res.text(), setCookies: res.headers.getSetCookie(), headers: res.headers };
}

/** The `name=value` pair a response set for `name` (not a clearing line), or `undefined`. */
function cookieSet(reply: Reply, name: string): string | undefined {
  return reply.setCookies.find((line) => line.startsWith(`${name}=`) && !/Max-Age=0/.test(line))?.split(';')[0];
}

function cleared(reply: Reply, name: string): boolean {
  return reply.setCookies.some((line) => line.startsWith(`${name}=;`) && /Max-Age=0/.test(line) && /Path=\//.test(line));
}

// ------------------------------------------------------------------ the old app: express-session

/** The app before the switch: express-session with the old store; `/login` signs alice in (passport's shape). */
async function oldApp(store: expressSession.Store, secret: string | string[] = OLD_SECRETS): Promise<string> {
  const app = express();
  app.use(expressSession({ secret, store, resave: false, saveUninitialized: false, cookie: { maxAge: 2 * HOUR } }));
  app.post('/login', (req, res, next) => {
    req.session.passport = { user: 'alice' };
    req.session.basket = ['tea', 'scones'];
    if (req.query.remember === '1') req.session.cookie.maxAge = 3 * DAY;
    req.session.save((err) => (err ? next(err) : res.sendStatus(204)));
  });
  return listen(app);
}

/** Sign alice in on the old app: her express-session cookie (`connect.sid=s%3A…`) and session ID. */
async function oldSignIn(base: string, query = ''): Promise<{ cookie: string; sid: string }> {
  const reply = await request(base, `/login${query}`, undefined, 'POST');
  assert.equal(reply.status, 204);
  const cookie = cookieSet(reply, 'connect.sid');
  assert.ok(cookie, 'express-session set its cookie');
  const value = decodeURIComponent(cookie.slice('connect.sid='.length));
  assert.ok(value.startsWith('s:'));
  return { cookie, sid: value.slice(2, value.lastIndexOf('.')) };
}

// ------------------------------------------------------------------ the new app: tessera

interface NewApp {
  base: string;
  sessions: ReturnType<typeof session>;
}

/** The app after the switch: tessera, with `migrateFrom` pointed at the old store. */
async function newApp(options: ExpressSessionOptions): Promise<NewApp> {
  const app = express();
  const sessions = session({ resave: false, saveUninitialized: false, cookie: { maxAge: 2 * HOUR }, ...options });
  cleanups.push(() => sessions.tessera.close());
  app.use(sessions);
  app.get('/me', (req, res) => {
    res.json({ passport: req.session.passport ?? null, basket: req.session.basket ?? null, userId: tesseraSession(req).userId });
  });
  app.get('/visit', async (req, res) => {
    req.session.basket = ['new'];
    await req.session.save();
    res.sendStatus(204);
  });
  return { base: await listen(app), sessions };
}

const ALICE = { passport: { user: 'alice' }, basket: ['tea', 'scones'], userId: 'alice' };
const NOBODY = { passport: null, basket: null, userId: null };

// ------------------------------------------------------------------ the stores

interface Backend {
  readonly name: string;
  readonly skip: string | false;
  /** The old store, as the old app had it (a new instance over the same data each call, like another process's). */
  oldStore(): expressSession.Store;
  /** Whether the old store still holds `sid`, read from the server directly. */
  oldRecordExists(sid: string): Promise<boolean>;
  /** A tessera store for the new app; `shared` names the data of another "process". */
  tesseraStore(shared?: string): SessionStore;
}

const redisSkip = await serviceSkip('Redis', REDIS_URL);
const pgSkip = await serviceSkip('PostgreSQL', PG_URL);

async function redisBackend(): Promise<Backend> {
  const prefix = `tessera-migrate-test:${RUN}:`;
  const client = createClient({ url: REDIS_URL });
  if (!redisSkip) {
    await client.connect();
    cleanups.push(async () => {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await client.del(keys);
      client.destroy();
    });
  }
  return {
    name: 'connect-redis 9 (redis v5 client)',
    skip: redisSkip,
    oldStore: () => new ConnectRedis({ client, prefix: `${prefix}sess:` }),
    oldRecordExists: async (sid) => (await client.exists(`${prefix}sess:${sid}`)) === 1,
    tesseraStore: (shared = randomUUID()) => new RedisStore({ url: REDIS_URL, prefix: `${prefix}tessera-${shared}:` }),
  };
}

async function pgBackend(): Promise<Backend> {
  const table = `express_session_${RUN}`;
  const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
  const tesseraTables: string[] = [];
  if (!pgSkip) {
    // connect-pg-simple's own table.sql, under a name of this run.
    await pool.query(
      `CREATE TABLE "${table}" ("sid" varchar NOT NULL COLLATE "default" PRIMARY KEY, "sess" json NOT NULL, "expire" timestamp(6) NOT NULL);` +
        `CREATE INDEX "${table}_expire" ON "${table}" ("expire")`,
    );
    cleanups.push(async () => {
      for (const name of [table, ...tesseraTables]) await pool.query(`DROP TABLE IF EXISTS "${name}", "${name}_act" CASCADE`);
      await pool.end();
    });
  }
  const PGStore = connectPgSimple(expressSession);
  return {
    name: 'connect-pg-simple',
    skip: pgSkip,
    oldStore: () => new PGStore({ pool, tableName: table, pruneSessionInterval: false }),
    oldRecordExists: async (sid) => (await pool.query(`SELECT 1 FROM "${table}" WHERE sid = $1`, [sid])).rowCount === 1,
    tesseraStore: (shared) => {
      const name = `tessera_migrate_${RUN}_${shared ?? tesseraTables.length}`.slice(0, 55);
      if (!tesseraTables.includes(name)) tesseraTables.push(name);
      return new PostgresStore({ pool, table: name });
    },
  };
}

const backends = [await redisBackend(), await pgBackend()];

for (const backend of backends) {
  describe(`migrateFrom ${backend.name}`, { skip: backend.skip }, () => {
    /** The old app and a new one over its store; `options` are the new app's. */
    async function setup(options: Partial<ExpressSessionOptions> = {}, migrate: Partial<MigrateFromOptions> = {}) {
      const clock = new FakeClock(Date.now());
      const oldStore = backend.oldStore();
      const old = await oldApp(oldStore);
      const until = new Date(clock.time + 30 * DAY);
      const app = await newApp({
        secret: NEW_SECRET,
        store: backend.tesseraStore(),
        now: clock.now,
        migrateFrom: { store: oldStore, secret: OLD_SECRETS, until, ...migrate },
        ...options,
      });
      return { clock, old, app, until };
    }

    it('keeps a signed-in user signed in: same data and user, a tessera cookie in place of the old one, the old record deleted', async () => {
      const { old, app } = await setup({ metrics: {} });
      const alice = await oldSignIn(old);
      assert.equal(await backend.oldRecordExists(alice.sid), true);

      // The default name outside production is express-session's: tessera's cookie replaces the old one.
      assert.equal(app.sessions.tessera.cookieName, 'connect.sid');
      const first = await request(app.base, '/me', alice.cookie);
      assert.equal(first.status, 200);
      assert.deepEqual(JSON.parse(first.body), ALICE);
      const next = cookieSet(first, 'connect.sid');
      assert.ok(next, 'the new cookie is set');
      assert.match(next.slice('connect.sid='.length), TESSERA_COOKIE, "tessera's cookie, not express-session's");
      assert.equal(first.setCookies.length, 1, 'one line for the name: no clearing line that would fight the new cookie');
      assert.equal(await backend.oldRecordExists(alice.sid), false, 'the old record is deleted');

      // The new cookie carries the session on; the user is indexed under her ID.
      assert.deepEqual(JSON.parse((await request(app.base, '/me', next)).body), ALICE);
      assert.equal((await app.sessions.tessera.listByUser('alice')).length, 1);
      assert.equal((await app.sessions.tessera.admin.stats()).sessions, 1, "operators see one session: the claim is not one");
      const active = parseExposition(await app.sessions.tessera.metrics.prometheus()).samples.get('tessera_sessions_active');
      assert.equal(active, 1, 'the active-sessions gauge does not count the claim either');

      // A second use of the old cookie (a copy, a replay) does not bring the session back.
      const replay = await request(app.base, '/me', alice.cookie);
      assert.equal(replay.status, 200);
      assert.deepEqual(JSON.parse(replay.body), NOBODY);
      assert.equal(cookieSet(replay, 'connect.sid'), undefined, 'a fresh, empty session sends no cookie (saveUninitialized: false)');
      assert.equal((await app.sessions.tessera.listByUser('alice')).length, 1);
    });

    it('with a new cookie name: sets it and clears the old cookie; the old cookie stops counting once tessera has a session', async () => {
      const { old, app } = await setup({ name: 'sid' });
      const alice = await oldSignIn(old);

      const first = await request(app.base, '/me', alice.cookie);
      assert.deepEqual(JSON.parse(first.body), ALICE);
      const next = cookieSet(first, 'sid');
      assert.ok(next);
      assert.ok(cleared(first, 'connect.sid'), 'the old cookie is cleared on its path');

      // A browser that kept the old cookie anyway: tessera's valid session wins, the old one is cleared again.
      const both = await request(app.base, '/me', `${alice.cookie}; ${next}`);
      assert.deepEqual(JSON.parse(both.body), ALICE);
      assert.ok(cleared(both, 'connect.sid'));
    });

    it('a valid tessera session wins over an old cookie whose session is still in the old store, which is left alone', async () => {
      const { old, app } = await setup({ name: 'sid' });
      const visit = await request(app.base, '/visit');
      const mine = cookieSet(visit, 'sid');
      assert.ok(mine);
      const alice = await oldSignIn(old);

      const reply = await request(app.base, '/me', `${mine}; ${alice.cookie}`);
      assert.deepEqual(JSON.parse(reply.body), { passport: null, basket: ['new'], userId: null });
      assert.ok(cleared(reply, 'connect.sid'));
      assert.equal(await backend.oldRecordExists(alice.sid), true, 'not read, not deleted');
    });

    it('adopts a session once, even when the old record comes back (a delete that failed): the claim refuses it', async () => {
      const { old, app } = await setup();
      const oldStore = backend.oldStore();
      const alice = await oldSignIn(old);
      const saved = await new Promise<unknown>((resolve, reject) => oldStore.get(alice.sid, (err, s) => (err ? reject(err) : resolve(s))));

      assert.deepEqual(JSON.parse((await request(app.base, '/me', alice.cookie)).body), ALICE);
      await new Promise<void>((resolve, reject) => oldStore.set(alice.sid, saved as expressSession.SessionData, (err) => (err ? reject(err) : resolve())));
      assert.equal(await backend.oldRecordExists(alice.sid), true);

      assert.deepEqual(JSON.parse((await request(app.base, '/me', alice.cookie)).body), NOBODY);
      assert.equal((await app.sessions.tessera.listByUser('alice')).length, 1);
    });

    it('the same old cookie in concurrent requests to two processes makes one session, whose cookie no other response replaces', async () => {
      const clock = new FakeClock(Date.now());
      const old = await oldApp(backend.oldStore());
      const until = new Date(clock.time + DAY);
      const shared = randomUUID().slice(0, 8);
      // Two "processes": their own middleware, tessera instance and store objects over the same
      // data; saveUninitialized: true, so that a fresh session would send a cookie.
      const apps = await Promise.all(
        [1, 2].map(() =>
          newApp({
            secret: NEW_SECRET,
            saveUninitialized: true,
            store: backend.tesseraStore(shared),
            now: clock.now,
            migrateFrom: { store: backend.oldStore(), secret: OLD_SECRETS, until },
          }),
        ),
      );
      let alice = { cookie: '', sid: '' };
      for (let round = 0; round < 5; round++) {
        alice = await oldSignIn(old);
        const replies = await Promise.all([...apps, ...apps].map((app) => request(app.base, '/me', alice.cookie)));
        assert.ok(replies.every((reply) => reply.status === 200));
        const adopted = replies.filter((reply) => JSON.parse(reply.body).userId === 'alice');
        assert.equal(adopted.length, 1, `round ${round}: one request adopts the session, the others get a fresh one`);
        const cookies = replies.flatMap((reply) => cookieSet(reply, 'connect.sid') ?? []);
        assert.deepEqual(cookies, [cookieSet(adopted[0]!, 'connect.sid')], 'only the adopting response sets a cookie: the browser keeps the adopted session');
        assert.equal(await backend.oldRecordExists(alice.sid), false);
      }
      assert.equal((await apps[0]!.sessions.tessera.listByUser('alice')).length, 5, 'one session per sign-in, not one per request');

      // A replay later is an ordinary visitor: a fresh session, with its cookie.
      clock.advance(60_000);
      const later = await request(apps[0]!.base, '/me', alice.cookie);
      assert.deepEqual(JSON.parse(later.body), NOBODY);
      assert.ok(cookieSet(later, 'connect.sid'));
    });

    it('a tampered, forged or unsigned old cookie gets a fresh session (never a 500), and the old record stays', async () => {
      const { old, app } = await setup({ name: 'sid' });
      const alice = await oldSignIn(old);
      const value = decodeURIComponent(alice.cookie.slice('connect.sid='.length));
      const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
      const forged = [
        `connect.sid=${encodeURIComponent(flip(value, value.length - 3))}`, // signature changed
        `connect.sid=${encodeURIComponent(flip(value, 4))}`, // ID changed
        `connect.sid=${encodeURIComponent(`s:${sign(alice.sid, 'a secret the old app never had')}`)}`,
        `connect.sid=${alice.sid}`, // unsigned
        `connect.sid=s%3A`,
        `connect.sid=s%3A.`,
        `connect.sid=%E0%A4%A`, // not decodable
        `connect.sid=s%3A${'a'.repeat(5000)}.x`,
      ];
      for (const cookie of forged) {
        const reply = await request(app.base, '/me', cookie);
        assert.equal(reply.status, 200, cookie.slice(0, 60));
        assert.deepEqual(JSON.parse(reply.body), NOBODY, cookie.slice(0, 60));
        assert.ok(cleared(reply, 'connect.sid'), 'the useless cookie is cleared');
      }
      assert.equal(await backend.oldRecordExists(alice.sid), true);
      // ...and the real one still works afterwards.
      assert.deepEqual(JSON.parse((await request(app.base, '/me', alice.cookie)).body), ALICE);
    });

    it('accepts a cookie signed with any secret of the array, as express-session', async () => {
      const { app } = await setup();
      const old = await oldApp(backend.oldStore(), [OLD_SECRETS[1]!]);
      const alice = await oldSignIn(old);
      assert.deepEqual(JSON.parse((await request(app.base, '/me', alice.cookie)).body), ALICE);
    });

    it('after `until`, old cookies are ignored (and cleared): the old store is not read', async () => {
      const { old, app, clock, until } = await setup({ name: 'sid' });
      const alice = await oldSignIn(old);
      clock.time = until.getTime();
      const reply = await request(app.base, '/me', alice.cookie);
      assert.deepEqual(JSON.parse(reply.body), NOBODY);
      assert.ok(cleared(reply, 'connect.sid'));
      assert.equal(await backend.oldRecordExists(alice.sid), true);
    });

    it("keeps a session's own lifetime (remember me); others follow the new configuration", async () => {
      const { old, app } = await setup();
      const remembered = await oldSignIn(old, '?remember=1');
      const ordinary = await oldSignIn(old);
      const maxAgeOf = (reply: Reply) => Number(/Max-Age=(\d+)/.exec(reply.setCookies.find((l) => l.startsWith('connect.sid='))!)?.[1]);
      assert.equal(maxAgeOf(await request(app.base, '/me', remembered.cookie)), (3 * DAY) / 1000);
      assert.equal(maxAgeOf(await request(app.base, '/me', ordinary.cookie)), (2 * HOUR) / 1000);
    });
  });
}

// ------------------------------------------------------------------ outages and configuration

describe('migrateFrom: an old store that fails', { skip: redisSkip }, () => {
  it('answers 503 with Retry-After and keeps the old cookie, so the retry after the outage adopts the session', async () => {
    const backend = backends[0]!;
    const live = backend.oldStore();
    const old = await oldApp(live);
    const alice = await oldSignIn(old);
    // connect-redis over a client that was never connected: every call fails, as in an outage.
    const down = new ConnectRedis({ client: createClient({ url: REDIS_URL }) });
    let current: expressSession.Store = down;
    const switching: ExpressSessionStore = {
      get: (sid, callback) => current.get(sid, callback),
      destroy: (sid, callback) => current.destroy(sid, callback),
    };
    const app = await newApp({ secret: NEW_SECRET, name: 'sid', store: new MemoryStore(), migrateFrom: { store: switching, secret: OLD_SECRETS, until: new Date(Date.now() + DAY) } });

    const outage = await request(app.base, '/me', alice.cookie);
    assert.equal(outage.status, 503);
    assert.equal(outage.headers.get('retry-after'), '1');
    assert.deepEqual(outage.setCookies, [], 'the old cookie is kept and no session started');
    assert.equal(await backend.oldRecordExists(alice.sid), true);

    current = live;
    const retry = await request(app.base, '/me', alice.cookie);
    assert.deepEqual(JSON.parse(retry.body), ALICE);
    assert.equal(await backend.oldRecordExists(alice.sid), false);
  });
});

describe('migrateFrom: an expired session in a store that keeps it', { skip: redisSkip }, () => {
  it('is not adopted: connect-redis with disableTTL keeps records past their cookie.expires', async () => {
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    const prefix = `tessera-migrate-test:${RUN}:no-ttl:`;
    cleanups.push(async () => {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await client.del(keys);
      client.destroy();
    });
    const store = new ConnectRedis({ client, prefix, disableTTL: true });
    const alice = await oldSignIn(await oldApp(store)); // cookie.maxAge: 2 hours
    const clock = new FakeClock(Date.now() + 3 * HOUR);
    const app = await newApp({ secret: NEW_SECRET, store: new MemoryStore(), now: clock.now, migrateFrom: { store, secret: OLD_SECRETS, until: new Date(clock.time + DAY) } });

    assert.deepEqual(JSON.parse((await request(app.base, '/me', alice.cookie)).body), NOBODY);
    clock.time -= 2 * HOUR; // the same cookie while its session was still valid
    assert.deepEqual(JSON.parse((await request(app.base, '/me', alice.cookie)).body), ALICE);
  });
});

describe('migrateFrom: configuration is checked at start-up', () => {
  const store = new expressSession.MemoryStore();
  const until = new Date(Date.now() + DAY);
  const base = { secret: NEW_SECRET, store: new MemoryStore(), resave: false, saveUninitialized: false };
  const refused: Array<[string, unknown, RegExp]> = [
    ['not an object', 'connect-redis', /must be an object/],
    ['no store', { secret: 's', until }, /store must be an express-session store/],
    ['a store without destroy', { store: { get() {} }, secret: 's', until }, /store must be an express-session store/],
    ['no secret', { store, until }, /secret/],
    ['an empty secret', { store, secret: '', until }, /secret/],
    ['an empty array of secrets', { store, secret: [], until }, /secret/],
    ['a secret that is not a string', { store, secret: [42], until }, /secret/],
    ['no until', { store, secret: 's' }, /until must be a Date/],
    ['an until that is not a date', { store, secret: 's', until: '2027-01-01' }, /until must be a Date/],
    ['a malformed cookie name', { store, secret: 's', until, name: 'connect sid' }, /name/],
    ['a path not starting with /', { store, secret: 's', until, path: 'app' }, /path/],
    ['a userId that is not a function', { store, secret: 's', until, userId: 'passport.user' }, /userId/],
  ];
  for (const [what, migrateFrom, message] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(() => session({ ...base, migrateFrom: migrateFrom as MigrateFromOptions }), (error: unknown) => error instanceof ConfigError && message.test(error.message));
    });
  }

  it('starts with an until already past, warning that old cookies are now only cleared', () => {
    const warnings: string[] = [];
    const sessions = session({ ...base, logger: { warn: (_fields: object, m: string) => warnings.push(m) }, migrateFrom: { store, secret: 's', until: new Date(Date.now() - 1) } });
    assert.equal(typeof sessions, 'function');
    assert.ok(warnings.some((w) => /migrateFrom\.until has passed/.test(w)), warnings.join('\n'));
  });

  it('refuses a CookieStore: there is nowhere to record that a session was adopted', () => {
    assert.throws(
      () => session({ ...base, store: new CookieStore({ revocation: new MemoryStore() }), migrateFrom: { store, secret: 's', until } }),
      (error: unknown) => error instanceof ConfigError && /CookieStore/.test(error.message),
    );
  });

  it("accepts express-session's MemoryStore, and works with a shared tessera instance", async () => {
    const sessions = session({ ...base, migrateFrom: { store, secret: ['new', 'old'], until } });
    assert.equal(typeof sessions, 'function');
    const shared = session({ tessera: sessions.tessera, resave: false, migrateFrom: { store, secret: 's', until } });
    assert.equal(shared.tessera, sessions.tessera);
    await sessions.tessera.close();
  });
});
