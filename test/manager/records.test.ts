/**
 * What a server store holds: the session as JSON text, or sealed with encryption at rest — bound to
 * its store key and readable by any manager that has the secrets — and read back as the same data
 * by every request, whichever form the record takes in this process (a string decoded again, a
 * cached decoding, or a record object MemoryStore keeps). Server stores only: the cookie store
 * keeps no records (its seal is tested in test/stores/cookie.test.ts).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { storeKey } from '../../src/crypto/ids.js';
import { FakeResponse } from '../helpers/browser.js';
import { matrix } from './matrix.js';

matrix(
  'records',
  (c) => {
    // Encryption at rest, on the encrypted combinations and on MemoryStore (whose records carry their session) with encryptData on.
    if (c.encrypted || c.retained) {
      const encrypted = { encryptData: true };

      it('with encryption at rest, stores ciphertext, reads it back, and re-seals with a new key on the next write', async () => {
        const { tessera: old, store, clock, another } = c.setup({ ...encrypted, secrets: ['o'.repeat(32)] });
        const { id } = await old.create({ data: { card: 'visible-secret' } });
        const key = storeKey(id, null);
        const stored = (await store.inner.get(key, { now: clock.time }))!.data;
        assert.ok(!stored.includes('visible-secret'));
        const rotated = another({ secrets: ['n'.repeat(32), 'o'.repeat(32)] });
        assert.equal(await rotated.get(id, 'card'), 'visible-secret', 'old-key records stay readable');
        await rotated.set(id, 'x', 1);
        const resealed = (await store.inner.get(key, { now: clock.time }))!.data;
        const onlyNew = another({ secrets: ['n'.repeat(32)] });
        assert.equal(await onlyNew.get(id, 'card'), 'visible-secret', 're-sealed with the current key');
        assert.notEqual(resealed, stored);
      });

      it('with encryption at rest, a record is read back by another manager from its text, so its own secrets apply', async () => {
        const { tessera, another } = c.setup({ ...encrypted, secrets: ['a'.repeat(32)] });
        const { id } = await tessera.create({ data: { card: 'secret' } });
        assert.equal(await another({ secrets: ['a'.repeat(32)] }).get(id, 'card'), 'secret', 'same secret: readable');
        assert.equal(await another({ secrets: ['b'.repeat(32)] }).isValid(id), false, 'another secret: unreadable');
      });

      // A memory store's records are objects carrying their session: moving the object itself must not get past the seal either.
      for (const how of ['its text, in a new record', 'the record object itself'] as const) {
        it(`with encryption at rest, a record copied under another session stays unreadable (${how})`, async () => {
          const { tessera, store, clock } = c.setup(encrypted);
          const victim = await tessera.create({ data: { card: 'victim-secret' } });
          const attacker = await tessera.create({ data: { card: 'mine' } });
          assert.equal(await tessera.get(victim.id, 'card'), 'victim-secret'); // now decoded once
          const sealed = (await store.inner.get(storeKey(victim.id, null), { now: clock.time }))!;
          const target = storeKey(attacker.id, null);
          const current = (await store.inner.get(target, { now: clock.time }))!;
          const copy = how === 'the record object itself' ? sealed : { data: sealed.data, version: current.version + 1, expiresAt: sealed.expiresAt, userId: null, tenant: null };
          assert.equal(await store.inner.set(target, copy, current.version, { now: clock.time }), true);
          assert.equal(await tessera.get(attacker.id, 'card'), undefined, 'the seal is bound to its store key');
          assert.equal(await tessera.isValid(attacker.id), false);
        });
      }
    }

    // JSON records: their text is what another tool or process reads.
    if (!c.encrypted) {
      it('stores the session as JSON text, also in a record kept as an object', async () => {
        const { tessera, store, clock } = c.setup();
        const { id } = await tessera.create({ data: { n: 1, name: 'ann' }, ip: '10.0.0.9' });
        const text = (await store.inner.get(storeKey(id, null), { now: clock.time }))!.data;
        assert.deepEqual(JSON.parse(text), { d: { n: 1, name: 'ann' }, c: clock.time, s: clock.time, l: null, ip: '10.0.0.9', ua: null });
      });

      it('a record without ip, ua or l (written elsewhere) stays readable by other processes after a write', async () => {
        const { tessera, store, clock, another } = c.setup();
        const { id } = await tessera.create({ data: { n: 1 } });
        const key = storeKey(id, null);
        const current = (await store.inner.get(key, { now: clock.time }))!;
        const bare = JSON.stringify({ d: { n: 1 }, c: clock.time, s: clock.time });
        await store.inner.set(key, { ...current, data: bare, version: current.version + 1 }, current.version, { now: clock.time });
        await another().set(id, 'n', 2);
        const written = (await store.inner.get(key, { now: clock.time }))!.data;
        assert.doesNotThrow(() => JSON.parse(written), written);
        assert.equal(await another().get(id, 'n'), 2, 'another process reads the write');
        const meta = (await another().load(id))!.meta;
        assert.deepEqual([meta.ip, meta.userAgent, meta.lifetime], [null, null, null], 'missing fields read as null, as typed');
      });
    }

    // A record kept as an object loses its text getter when spread: only MemoryStore's retained records can be copied that way.
    if (c.retained) {
      for (const encryptData of [false, true]) {
        it(`treats a record without text (a spread copy of a kept record) as unreadable, not as a crash${encryptData ? ' (encryptData)' : ''}`, async () => {
          const { tessera, store, clock } = c.setup({ encryptData });
          const { id } = await tessera.create({ data: { n: 1 } });
          const key = storeKey(id, null);
          const kept = (await store.inner.get(key, { now: clock.time }))!;
          const { id: other } = await tessera.create({ data: { n: 2 } });
          const target = storeKey(other, null);
          await store.inner.set(target, { ...kept, version: 2 }, 1, { now: clock.time });
          assert.equal(await tessera.isValid(other), false);
          assert.equal(await tessera.get(id, 'n'), 1, 'the original is untouched');
        });
      }
    }

    // loadSync() shows what the store holds at that instant, with the commit of a change still queued.
    if (c.synchronous) {
      it('reads what was written: a change made since, not yet committed, is not seen by another request', async () => {
        const { tessera } = c.setup();
        const { cookie } = await tessera.create({ data: { n: 0 } });
        const request = () => tessera.begin({ cookieHeader: `${tessera.cookieName}=${cookie}` }, new FakeResponse().sink);
        const first = request();
        const a = first.loadSync();
        a.set('n', 1);
        await a.save();
        a.set('n', 2); // its commit waits for this synchronous code to finish
        assert.equal(request().loadSync().get('n'), 1, 'the stored record still says 1');
        await first.settle();
        assert.equal(request().loadSync().get('n'), 2);
      });
    }

    it('gives every request its own copy of the data', async () => {
      const { tessera } = c.setup();
      const { id } = await tessera.create({ data: { n: 1, name: 'ann' } });
      const first = (await tessera.load(id))!;
      const second = (await tessera.load(id))!;
      first.set('n', 2);
      first.delete('name');
      assert.deepEqual(second.toJSON(), { n: 1, name: 'ann' }, 'the other request still sees the stored record');
      await first.save();
      assert.deepEqual((await tessera.load(id))!.toJSON(), { n: 2 });
    });

    it('does not leak a nested value changed in place (and not saved) into the next request', async () => {
      const { tessera } = c.setup();
      const { id } = await tessera.create({ data: { cart: ['apple'], profile: { name: 'ann' } } });
      const first = (await tessera.load(id))!;
      first.get<string[]>('cart')!.push('pear');
      first.get<{ name: string }>('profile')!.name = 'bob';
      const next = (await tessera.load(id))!;
      assert.deepEqual(next.get('cart'), ['apple']);
      assert.deepEqual(next.get('profile'), { name: 'ann' });
    });

    it('reads back what JSON holds, in this process as in any other (NaN, Infinity, -0)', async () => {
      const { tessera: writer, another } = c.setup();
      const { id } = await writer.create({ data: { score: NaN, big: Infinity, neg: -0, n: 1 } });
      const expected = { score: null, big: null, neg: 0, n: 1 };
      assert.deepEqual((await writer.load(id))!.toJSON(), expected, 'the process that wrote it');
      assert.deepEqual((await another().load(id))!.toJSON(), expected, 'another process');
    });
  },
  (c) => c.server,
);
