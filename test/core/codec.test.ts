/**
 * The record codec's seal (`encryptData`), against someone who can write to the database but does
 * not hold the secrets: on a real SqliteStore, rows changed with SQL — another user, tenant or
 * version in the indexed columns, a sealed value moved to another key, another spelling of the
 * same bytes — are unreadable, so the request gets a fresh session (and an `invalidCookie` event),
 * never the session as the changed row says. Records sealed before format 2 still open, and their
 * next write seals them in format 2.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { storeKey } from '../../src/crypto/ids.js';
import { Sealer } from '../../src/crypto/seal.js';
import type { SessionEvent } from '../../src/core/events.js';
import { Tessera } from '../../src/manager.js';
import { SqliteStore } from '../../src/stores/sqlite.js';
import { Browser } from '../helpers/browser.js';
import { FakeClock } from '../helpers/clock.js';
import { otherSpellings } from '../helpers/sealing.js';

const SECRET = 'test-secret-that-is-long-enough-0123456789';

/**
 * A session sealed at rest by tessera before format 2 (its Sealer's format 1, bound to the store
 * key alone), made with {@link SECRET} at the FakeClock's start, tenant `acme`, user `ann`, data
 * `{ card: 'stored-before' }`: its row and the cookie naming it.
 */
const FORMAT_1 = {
  cookie: '__Host-tessera=gK80Ph6YA8bK0n9f2IoJXZ8J12a14q5RaEhs5KUUCjk.txBmUZzp4Id_RSiM8qyBDStm9yG04vji-qe8oHIDTlU',
  id: 'gK80Ph6YA8bK0n9f2IoJXZ8J12a14q5RaEhs5KUUCjk',
  record: {
    data: 'AYm47PrBR2gT3sIOLRjvFKywzlV4J6JDEHsF20yMGSEVezTIilHY88AECfaWELBvxWe922mo8aSchTd7GNqnlpMifsLFpIBiWW_5Yq5Wvt9XN5Xsb90-8DFp7BA_7CpNnUdOT5KZOTCprZq3bcPuER0IZne9Os_eQRPaq_CWdi0mFyWp_Kjja7JuDoAFgw',
    version: 1,
    expiresAt: 1767312000000,
    userId: 'ann',
    tenant: 'acme',
  },
};

const managers: Tessera[] = [];
after(async () => {
  for (const tessera of managers) await tessera.close();
});

/** A manager with encryption at rest on a SqliteStore over `db`, which the test also changes with SQL. */
function setup(clock = new FakeClock()) {
  const db = new Database(':memory:');
  const make = () => {
    const tessera = new Tessera({ secrets: [SECRET], store: new SqliteStore({ database: db }), encryptData: true, now: clock.now, cleanupInterval: 0, logger: {}, cookie: { secure: true } });
    managers.push(tessera);
    return tessera;
  };
  const tessera = make();
  const invalid: SessionEvent[] = [];
  tessera.on('invalidCookie', (e: SessionEvent) => invalid.push(e));
  const row = (key: string) => db.prepare('SELECT data, version, user_id, tenant FROM tessera_sessions WHERE key = ?').get(key) as { data: string; version: number; user_id: string | null; tenant: string | null };
  return { db, clock, tessera, invalid, row, browser: new Browser(tessera), another: make };
}

describe('record codec: the seal at rest binds the indexed fields', () => {
  it("a session whose user_id column is changed to 'admin' loads as a fresh session, not as admin", async () => {
    const { db, browser, tessera, invalid, another, clock } = setup();
    const { session } = await browser.request((s) => {
      s.set('role', 'reader');
      s.userId = 'alice';
    });
    const key = storeKey(session.id, null);
    assert.equal((await browser.request((s) => s.userId)).result, 'alice', 'read back (and decoded once, so remembered)');
    db.prepare("UPDATE tessera_sessions SET user_id = 'admin' WHERE key = ?").run(key);
    for (const reader of [tessera, another()]) {
      const seen = new Browser(reader);
      seen.cookie = browser.cookie;
      const { result, session: loaded } = await seen.request((s) => [s.userId, s.get('role')]);
      assert.deepEqual(result, [null, undefined], 'neither the user nor the data of the changed row');
      assert.equal(loaded.isNew, true);
      assert.notEqual(loaded.id, session.id);
    }
    assert.deepEqual(invalid[0], { type: 'invalidCookie', at: clock.now(), ref: key.slice(0, 12), userId: null, tenant: null, ip: '10.0.0.1', userAgent: 'test-agent', reason: 'unreadable record' });
    assert.deepEqual(await tessera.listByUser('admin'), [], 'not listed under the user the column names');
    assert.equal(await tessera.isValid(session.id), false);
  });

  it('a session whose user_id is cleared, or set on a session without a user, is unreadable too', async () => {
    const { db, browser, tessera } = setup();
    const { session: signedIn } = await browser.request((s) => {
      s.set('a', 1);
      s.userId = 'alice';
    });
    const anonymous = new Browser(tessera);
    const { session: guest } = await anonymous.request((s) => s.set('a', 2));
    db.prepare('UPDATE tessera_sessions SET user_id = NULL WHERE key = ?').run(storeKey(signedIn.id, null));
    db.prepare("UPDATE tessera_sessions SET user_id = 'alice' WHERE key = ?").run(storeKey(guest.id, null));
    assert.equal((await browser.request((s) => s.isNew)).result, true);
    assert.equal((await anonymous.request((s) => s.isNew)).result, true);
  });

  it('a sealed value moved to another key (with its columns) does not open there', async () => {
    const { db, tessera, row } = setup();
    const victim = new Browser(tessera);
    const { session: v } = await victim.request((s) => {
      s.set('card', 'victim-secret');
      s.userId = 'victim';
    });
    const attacker = new Browser(tessera);
    const { session: a } = await attacker.request((s) => s.set('card', 'mine'));
    const from = row(storeKey(v.id, null));
    db.prepare('UPDATE tessera_sessions SET data = ?, version = ?, user_id = ?, tenant = ? WHERE key = ?').run(from.data, from.version, from.user_id, from.tenant, storeKey(a.id, null));
    const { result } = await attacker.request((s) => [s.isNew, s.get('card'), s.userId]);
    assert.deepEqual(result, [true, undefined, null]);
    assert.equal((await victim.request((s) => s.get('card'))).result, 'victim-secret', 'the original still opens');
  });

  it('a session whose version column is changed is unreadable; the version a write seals is the one the store keeps', async () => {
    const { db, browser, row, another } = setup();
    const { session } = await browser.request((s) => s.set('n', 1));
    const key = storeKey(session.id, null);
    // Several writes, one of them from another manager: each seals the version it writes.
    await browser.request((s) => s.set('n', 2));
    await another().set(session.id, 'm', 1);
    await browser.request((s) => s.set('n', 3));
    assert.equal(row(key).version, 4);
    assert.deepEqual((await browser.request((s) => s.toJSON())).result, { n: 3, m: 1 });
    for (const version of [5, 3, 0]) {
      db.prepare('UPDATE tessera_sessions SET version = ? WHERE key = ?').run(version, key);
      assert.equal((await browser.request((s) => s.get('n'))).result, undefined, `version ${version}`);
    }
  });

  it("a session whose tenant column is changed is unreadable, under the tenant it was made for", async () => {
    const { db, browser, row } = setup();
    const { session } = await browser.request((s) => s.set('a', 1), { tenant: 'acme' });
    const key = storeKey(session.id, 'acme');
    assert.equal(row(key).tenant, 'acme');
    db.prepare("UPDATE tessera_sessions SET tenant = 'globex' WHERE key = ?").run(key);
    assert.equal((await browser.request((s) => s.get('a'), { tenant: 'acme' })).result, undefined);
  });

  it('a sealed value opens only in its canonical spelling', async () => {
    const { db, browser, row } = setup();
    const { session } = await browser.request((s) => s.set('card', 'x'));
    const key = storeKey(session.id, null);
    const sealed = row(key).data;
    assert.equal(Sealer.formatOf(sealed), 2);
    for (const variant of otherSpellings(sealed)) {
      db.prepare('UPDATE tessera_sessions SET data = ? WHERE key = ?').run(variant, key);
      assert.equal((await browser.request((s) => s.get('card'))).result, undefined, JSON.stringify(variant.slice(-8)));
    }
    db.prepare('UPDATE tessera_sessions SET data = ? WHERE key = ?').run(sealed, key);
    assert.equal((await browser.request((s) => s.get('card'))).result, 'x', 'the canonical value opens');
  });

  it('a record sealed before format 2 still opens, and its next write seals it in format 2, bound to its fields', async () => {
    const { db, tessera, row, another } = setup();
    const key = storeKey(FORMAT_1.id, 'acme');
    assert.equal(key, storeKey(FORMAT_1.id, FORMAT_1.record.tenant));
    const { data, version, expiresAt, userId, tenant } = FORMAT_1.record;
    db.prepare('INSERT INTO tessera_sessions (key, data, version, expires_at, user_id, tenant) VALUES (?, ?, ?, ?, ?, ?)').run(key, data, version, expiresAt, userId, tenant);
    const browser = new Browser(tessera);
    browser.cookie = FORMAT_1.cookie;
    const { result } = await browser.request((s) => [s.isNew, s.get('card'), s.userId], { tenant: 'acme' });
    assert.deepEqual(result, [false, 'stored-before', 'ann']);
    await browser.request((s) => s.set('more', 1), { tenant: 'acme' });
    const written = row(key);
    assert.equal(Sealer.formatOf(written.data), 2, 're-sealed in format 2');
    assert.equal(written.version, 2);
    assert.deepEqual(await another().get(FORMAT_1.id, 'card', { tenant: 'acme' }), 'stored-before', 'readable by another process');
    db.prepare("UPDATE tessera_sessions SET user_id = 'admin' WHERE key = ?").run(key);
    assert.equal((await browser.request((s) => s.isNew, { tenant: 'acme' })).result, true, 'now bound to its user');
  });
});
