/**
 * session.update(key, fn) and tessera.update(id, key, fn): a change computed from the current
 * value, which a server store's commit re-runs on the value a concurrent writer left, so no
 * update is lost (across processes: update-across-processes.test.ts). With the cookie store,
 * where two requests cannot be merged, it is a set of fn(current).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { NotSupportedError, SessionNotFoundError, SessionStateError, StoreUnavailableError } from '../../src/errors.js';
import { Browser } from '../helpers/browser.js';
import { failNext, holdWrites, HOUR, matrix, tick } from './matrix.js';

const inc = (n: number | undefined) => (n ?? 0) + 1;

matrix('session.update()', (c) => {
  it('gives the handler the new value at once, and stores it', async () => {
    const { request } = c.setup();
    const { result } = await request((s) => {
      const returned = s.update('n', inc);
      return [returned, s.get('n'), s.has('n')];
    });
    assert.deepEqual(result, [1, 1, true]);
    assert.equal((await request((s) => s.update('n', inc))).result, 2);
    assert.equal((await request((s) => s.get('n'))).result, 2);
  });

  it('calls fn with undefined for a missing key (an inherited name included)', async () => {
    const { request } = c.setup();
    const seen: unknown[] = [];
    await request((s) => {
      s.update('missing', (v) => (seen.push(v), 'x'));
      s.update('constructor', (v) => (seen.push(v), 'y'));
    });
    assert.deepEqual(seen, [undefined, undefined]);
    assert.deepEqual((await request((s) => s.toJSON())).result, { missing: 'x', constructor: 'y' });
  });

  it('deletes the key when fn returns undefined', async () => {
    const { request } = c.setup();
    await request((s) => {
      s.set('a', 1);
      s.set('keep', true);
    });
    const { result } = await request((s) => [s.update('a', () => undefined), s.has('a')]);
    assert.deepEqual(result, [undefined, false]);
    assert.deepEqual((await request((s) => s.toJSON())).result, { keep: true });
  });

  it('composes two updates of one key in one request', async () => {
    const { request } = c.setup();
    await request((s) => s.set('n', 3));
    const { result } = await request((s) => {
      s.update<number>('n', inc);
      return s.update<number>('n', (n) => n! * 2);
    });
    assert.equal(result, 8);
    assert.equal((await request((s) => s.get('n'))).result, 8);
  });

  it('set then update, and update then set, of one key give what sequential code gives', async () => {
    const { request } = c.setup();
    await request((s) => s.set('n', 3));
    const { result: doubled } = await request((s) => {
      s.set('n', 5);
      return s.update<number>('n', (n) => n! * 2);
    });
    assert.equal(doubled, 10);
    assert.equal((await request((s) => s.get('n'))).result, 10);
    await request((s) => {
      s.update('n', inc);
      s.set('n', 7);
    });
    assert.equal((await request((s) => s.get('n'))).result, 7);
  });

  it('refuses a value JSON cannot hold with SessionStateError, and changes nothing', async () => {
    const { request, store } = c.setup();
    await request((s) => s.set('n', 1));
    const writes = store.calls.set;
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const { res, wrote } = await request((s) => {
      for (const bad of [1n, () => 1, Symbol('s'), cycle, { n: 2n }]) {
        assert.throws(() => s.update('n', () => bad), SessionStateError, String(typeof bad));
        assert.throws(() => s.update('fresh', () => bad), SessionStateError);
      }
      assert.throws(() => s.update('__proto__', () => ({ admin: true })), SessionStateError);
      assert.throws(() => s.update('n', 'not a function' as never), TypeError);
      assert.deepEqual(s.toJSON(), { n: 1 }, 'the handler sees nothing changed');
    });
    assert.equal(wrote, false);
    assert.deepEqual(res.cookies, []);
    assert.equal(store.calls.set, writes);
    assert.deepEqual((await request((s) => s.toJSON())).result, { n: 1 });
  });

  it('refuses to update a destroyed session', async () => {
    const { request } = c.setup();
    await request((s) => {
      s.set('n', 1);
      s.destroy();
      assert.throws(() => s.update('n', inc), SessionStateError);
    });
  });

  if (c.server) {
    it('on a conflict, runs fn again on the value the other writer left (two loads of one session)', async () => {
      const { tessera } = c.setup();
      const { id } = await tessera.create({ data: { n: 0 } });
      const [a, b] = [(await tessera.load(id))!, (await tessera.load(id))!];
      const seen: unknown[] = [];
      a.update<number>('n', (n) => (seen.push(n), inc(n)));
      b.update<number>('n', (n) => (seen.push(n), inc(n)));
      await Promise.all([a.save(), b.save()]);
      assert.equal(await tessera.get(id, 'n'), 2, 'no increment lost');
      assert.deepEqual(seen.sort(), [0, 0, 1], 'each ran on 0 in its request; the one that lost ran again on 1');
    });

    it('the contrast: get then set from two loads of one session loses an increment', async () => {
      const { tessera } = c.setup();
      const { id } = await tessera.create({ data: { n: 0 } });
      const [a, b] = [(await tessera.load(id))!, (await tessera.load(id))!];
      a.set('n', inc(a.get<number>('n')));
      b.set('n', inc(b.get<number>('n')));
      await Promise.all([a.save(), b.save()]);
      assert.equal(await tessera.get(id, 'n'), 1);
    });

    it('set then update, and update then set, stay what sequential code gives over a concurrent writer', async () => {
      const { tessera } = c.setup();
      const { id } = await tessera.create({ data: { n: 3, m: 3 } });
      const mine = (await tessera.load(id))!;
      await tessera.set(id, 'n', 100);
      await tessera.set(id, 'm', 100);
      mine.set('n', 5);
      mine.update<number>('n', (n) => n! * 2);
      mine.update('m', inc);
      mine.set('m', 7);
      await mine.save(); // conflicts, and re-applies its changes on top of the other writer's
      assert.deepEqual((await tessera.load(id))!.toJSON(), { n: 10, m: 7 });
    });

    it('an update whose write failed, retried by a later save() with another update, counts each call once', async () => {
      const { tessera, store } = c.setup();
      const { id } = await tessera.create({ data: { n: 0 } });
      const session = (await tessera.load(id))!;
      failNext(store, 'set');
      session.update('n', inc);
      await assert.rejects(session.save(), StoreUnavailableError);
      await tessera.update<number>(id, 'n', (n) => n! + 10); // another writer meanwhile: the retry conflicts
      session.update('n', inc);
      await session.save();
      assert.equal(await tessera.get(id, 'n'), 12);
    });

    // Only a store answering with promises has a write in flight while the handler goes on.
    if (!c.synchronous) {
      it('on a conflict with a write in flight, runs fn again on the other writer’s value', async () => {
        const { tessera, store, another } = c.setup();
        const { id } = await tessera.create({ data: { n: 0 } });
        const session = (await tessera.load(id))!;
        const release = holdWrites(store, 1);
        const seen: unknown[] = [];
        session.update<number>('n', (n) => (seen.push(n), inc(n)));
        await tick(); // the write is in flight
        // Another process's writer gets there first (in this process, writes of one key queue).
        await another().update<number>(id, 'n', (n) => n! + 10);
        release();
        await session.save();
        assert.equal(await tessera.get(id, 'n'), 11);
        assert.deepEqual(seen, [0, 10], 'fn ran on the value this request read, then on the one the other writer left');
      });

      it('an update made while a write that then fails is in flight counts once, as does the failed one', async () => {
        const { tessera, store, another } = c.setup();
        const { id } = await tessera.create({ data: { n: 0 } });
        const session = (await tessera.load(id))!;
        const release = holdWrites(store, 1);
        session.update('n', inc);
        await tick(); // the first update's write is in flight
        session.update('n', inc); // made meanwhile: pending for the next commit
        await another().update<number>(id, 'n', (n) => n! + 10); // another process's writer: the next commit will conflict
        release(new StoreUnavailableError('down'));
        // The failed write hands its update back under the one made since; the next commit writes
        // both, re-run on the other writer's value.
        await assert.rejects(session.save(), StoreUnavailableError);
        await session.save();
        assert.equal(await tessera.get(id, 'n'), 12);
      });
    }

    if (!c.synchronous && c.server) {
      it('in one process, writes of one session queue: a second writer waits for the first instead of conflicting in the store', async () => {
        const { tessera, store } = c.setup();
        const { id } = await tessera.create({ data: { n: 0 } });
        const session = (await tessera.load(id))!;
        const release = holdWrites(store, 1);
        session.update('n', inc);
        await tick(); // the first write is in flight, held
        const before = store.calls.set;
        const second = tessera.update<number>(id, 'n', (n) => n! + 10);
        for (let i = 0; i < 5; i++) await tick();
        assert.equal(store.calls.set, before, 'the second write waits for the first, in process');
        release();
        await session.save();
        assert.equal(await second, 11);
        assert.equal(await tessera.get(id, 'n'), 11);
      });
    }

    it('tessera.update(id, key, fn) resolves the stored value, and counts every concurrent call', async () => {
      const { tessera } = c.setup();
      const { id } = await tessera.create({ data: { n: 0 } });
      assert.equal(await tessera.update(id, 'n', inc), 1);
      assert.equal(await tessera.update(id, 'gone', () => undefined), undefined);
      await Promise.all(Array.from({ length: 25 }, () => tessera.update(id, 'n', inc)));
      assert.equal(await tessera.get(id, 'n'), 26);
    });

    it('tessera.update() rejects with SessionNotFoundError for a missing or expired session', async () => {
      const { tessera, clock } = c.setup({ idleTimeout: HOUR });
      await assert.rejects(tessera.update('A'.repeat(43), 'n', inc), SessionNotFoundError);
      await assert.rejects(tessera.update('not an id', 'n', inc), SessionNotFoundError);
      const { id } = await tessera.create({ data: { n: 0 } });
      clock.advance(HOUR);
      let called = false;
      await assert.rejects(tessera.update(id, 'n', () => ((called = true), 1)), SessionNotFoundError);
      assert.equal(called, false);
    });
  }

  // Two requests cannot be merged with the cookie store: the browser keeps the last cookie.
  if (c.cookie) {
    it('with the cookie store, is a set of fn(current): each copy of the cookie updates its own value', async () => {
      const { browser, tessera } = c.setup();
      await browser.request((s) => s.set('n', 1));
      const copy = new Browser(tessera);
      copy.cookie = browser.cookie;
      assert.equal((await browser.request((s) => s.update('n', inc))).result, 2);
      assert.equal((await copy.request((s) => s.update('n', inc))).result, 2, 'the copy still held 1');
      assert.equal((await browser.request((s) => s.get('n'))).result, 2);
      await assert.rejects(tessera.update('A'.repeat(43), 'n', inc), NotSupportedError);
    });
  }
});
