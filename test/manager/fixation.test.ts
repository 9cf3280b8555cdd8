/**
 * Session fixation: setting `session.userId` on a session the request's cookie named gives it a
 * new ID (keeping its data), so an ID a client brought never becomes a signed-in user's.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { it } from 'node:test';
import { SessionStateError } from '../../src/errors.js';
import { Browser } from '../helpers/browser.js';
import { matrix } from './matrix.js';

matrix('fixation: a new user, a new session ID', (c) => {
  // Without revocation a copy of a sealed cookie keeps working until it expires (the documented
  // limit of `revocation: false`): there the ID still changes, but the old cookie is not stopped.
  const stopsOldCookie = c.server || c.revocation !== null;

  it('signing in through userId gives the session a new ID and keeps its data', async () => {
    const { browser, tessera } = c.setup();
    const regenerated: unknown[] = [];
    tessera.on('regenerated', (e) => regenerated.push(e));
    const { session: before } = await browser.request((s) => s.set('cart', ['apple']));
    const planted = browser.cookie; // what an attacker who fixed the victim's session holds
    const oldId = before.id;
    const { session: after } = await browser.request((s) => {
      s.userId = 'ann';
      return s.id;
    });
    assert.notEqual(after.id, oldId, 'a new ID');
    assert.notEqual(browser.cookie, planted, 'a new cookie');
    assert.equal(regenerated.length, 1);
    const { result } = await browser.request((s) => [s.userId, s.get('cart'), s.isNew]);
    assert.deepEqual(result, ['ann', ['apple'], false], 'data and user kept under the new ID');
    if (stopsOldCookie) {
      const attacker = new Browser(tessera);
      attacker.cookie = planted;
      assert.deepEqual((await attacker.request((s) => [s.userId, s.get('cart'), s.isNew])).result, [null, undefined, true], 'the old cookie no longer loads it');
    }
  });

  it('the session\'s state cannot be reached from app code, so the new-ID step cannot be skipped', async () => {
    const { browser } = c.setup();
    const { session } = await browser.request((s) => s.set('cart', ['apple']));
    for (const name of ['state', 'runtime', 'rt']) assert.equal((session as unknown as Record<string, unknown>)[name], undefined, name);
    assert.deepEqual(Object.keys(session), [], 'no own enumerable property');
    const shown = inspect(session, { showHidden: true, depth: 5 });
    assert.ok(!shown.includes('apple') && !shown.includes(session.id), `neither its data nor its ID in util.inspect: ${shown}`);
  });

  it('signing in on a first visit whose form got a CSRF token (a provisional ID, nothing stored) gives a new ID too', async () => {
    const { browser, tessera } = c.setup();
    const { session: visit } = await browser.request((s) => s.csrfToken());
    const planted = browser.cookie; // the provisional cookie an attacker could have fixed
    assert.ok(planted, 'the first visit got an ID cookie with its token');
    const oldId = visit.id;
    const { session: after } = await browser.request((s) => {
      s.userId = 'ann';
      return s.id;
    });
    assert.notEqual(after.id, oldId, 'a new ID');
    assert.deepEqual((await browser.request((s) => [s.userId, s.isNew])).result, ['ann', false]);
    const attacker = new Browser(tessera);
    attacker.cookie = planted;
    const seen = (await attacker.request((s) => [s.userId, s.isNew])).result;
    assert.equal(seen[0], null, 'the planted cookie does not open the signed-in session');
    if (stopsOldCookie) assert.equal(seen[1], true, 'nor anything at all');
  });

  it('signing out (userId = null) and switching user change the ID too', async () => {
    const { browser } = c.setup();
    await browser.request((s) => {
      s.set('a', 1);
      s.userId = 'ann';
    });
    const ids = [browser.cookie];
    await browser.request((s) => (s.userId = 'bob'));
    ids.push(browser.cookie);
    await browser.request((s) => (s.userId = null));
    ids.push(browser.cookie);
    assert.equal(new Set(ids).size, 3);
    assert.deepEqual((await browser.request((s) => [s.userId, s.get('a')])).result, [null, 1]);
  });

  it('no second new ID: not after regenerate() in the same request, nor for a session this request made, nor when the user does not change', async () => {
    const { browser, tessera } = c.setup();
    let regenerated = 0;
    tessera.on('regenerated', () => regenerated++);
    await browser.request((s) => {
      s.set('a', 1);
      s.userId = 'ann'; // a new session: its ID is this request's own
    });
    assert.equal(regenerated, 0);
    await browser.request((s) => {
      s.regenerate();
      s.userId = 'bob';
    });
    assert.equal(regenerated, 1, 'regenerate() then userId: one new ID');
    const cookie = browser.cookie;
    await browser.request((s) => (s.userId = 'bob'));
    assert.equal(regenerated, 1, 'the same user: nothing changes');
    assert.equal(browser.cookie, cookie);
    assert.equal((await browser.request((s) => s.userId)).result, 'bob');
  });

  it('refuses to change the user once the response headers went out (the new ID could not reach the browser)', async () => {
    const { browser } = c.setup();
    await browser.request((s) => s.set('a', 1));
    await browser.request((s, res) => {
      res.headersSent = true;
      assert.throws(() => (s.userId = 'ann'), SessionStateError);
      assert.equal(s.userId, null);
    });
    assert.equal((await browser.request((s) => s.userId)).result, null);
  });

  // Sessions opened by ID (no cookie, no request) need a server store.
  if (c.server) {
    it('a session opened by ID keeps its ID when its user is set: it has no cookie to move', async () => {
      const { tessera } = c.setup();
      const { id } = await tessera.create({ data: { a: 1 } });
      const session = (await tessera.load(id))!;
      session.userId = 'ann';
      await session.save();
      assert.equal(session.id, id);
      assert.equal((await tessera.load(id))!.userId, 'ann');
    });
  }
});
