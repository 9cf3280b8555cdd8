import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePayload, parseSealedPayload, PayloadEncoder, type Payload, type SealedPayload } from '../src/payload.js';

const base: Payload = { d: { n: 1 }, c: 1_767_225_600_123, s: 1_767_225_700_456, l: null, ip: '203.0.113.7', ua: 'Mozilla/5.0' };

describe('PayloadEncoder', () => {
  it('writes exactly what JSON.stringify writes, for every field shape', () => {
    const encoder = new PayloadEncoder();
    const cases: (Payload | SealedPayload)[] = [
      base,
      { ...base, l: 2_592_000_000, pc: true },
      { ...base, pc: false },
      { ...base, a: 1_767_225_600_000 },
      { ...base, pc: true, a: 1_767_225_600_000 },
      { ...base, ip: null, ua: null },
      // Quotes, backslashes, control and non-ASCII characters, lone surrogates.
      { ...base, ip: '"::1"\\', ua: 'tab\there\nnewline \u0000 ünï 🙂 \ud800' },
      { ...base, d: { nested: { a: [1, 'two', null, true] }, s: 'é"', u: undefined, date: new Date(0) } },
      // Numbers JSON cannot hold are written as null, as JSON.stringify writes them.
      { ...base, c: Number.NaN, s: Number.POSITIVE_INFINITY, l: -0 },
      { ...base, d: {}, c: 0, s: 1.5, l: 0 },
      { i: 'AbC_-0123456789abcdefghijklmnopqrstuvwxyzAB', u: 'user "1"', ...base } as SealedPayload,
      { i: 'x', u: null, ...base, pc: false } as SealedPayload,
      { i: 'x', u: 'u1', ...base, pc: false, a: 5 } as SealedPayload,
    ];
    for (const p of cases) {
      const json = encoder.encode(p);
      assert.equal(json, JSON.stringify(p));
      assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(p)));
    }
  });

  it('writes what JSON.stringify writes for fields of another shape (a record read from elsewhere)', () => {
    const encoder = new PayloadEncoder();
    const odd = (p: object) => p as Payload;
    const cases: (Payload | SealedPayload)[] = [
      // A record lacking fields: JSON.stringify leaves undefined ones out.
      odd({ d: { n: 1 }, c: base.c, s: base.s, l: undefined, ip: undefined, ua: undefined }),
      odd({ ...base, ua: undefined }),
      odd({ ...base, l: '60000', pc: 'yes' }),
      odd({ ...base, a: 'yesterday' }),
      odd({ i: 'x', u: undefined, ...base }),
    ];
    for (const p of cases) {
      const json = encoder.encode(p);
      assert.equal(json, JSON.stringify(p));
      assert.doesNotThrow(() => JSON.parse(json), json);
    }
    // And the encoder is not left in a state that breaks the next, ordinary payload.
    assert.equal(encoder.encode(base), JSON.stringify(base));
  });

  it('notices when the IP address or user agent changes from one payload to the next', () => {
    const encoder = new PayloadEncoder();
    for (const ip of ['198.51.100.1', '198.51.100.1', '198.51.100.2', null, '198.51.100.2']) {
      for (const ua of ['a', 'b', null]) {
        const p = { ...base, ip, ua };
        assert.equal(encoder.encode(p), JSON.stringify(p));
      }
    }
  });
});

describe('parsePayload and parseSealedPayload', () => {
  it('reads a payload back, and refuses what is not one', () => {
    assert.deepEqual(parsePayload(JSON.stringify(base)), base);
    for (const bad of ['not json', 'null', '[]', '{"d":{},"c":1}', '{"d":null,"c":1,"s":1}', '{"d":{},"c":"1","s":1}']) {
      assert.equal(parsePayload(bad), null, bad);
    }
    assert.equal(parseSealedPayload(JSON.stringify(base)), null, 'a sealed payload needs its session ID');
  });

  it('gives missing or odd optional fields as null (a record written by another tool)', () => {
    assert.deepEqual(parsePayload('{"d":{"n":1},"c":5,"s":6,"l":"long","ip":7,"pc":"yes"}'), { d: { n: 1 }, c: 5, s: 6, l: null, ip: null, ua: null });
    assert.deepEqual(parsePayload('{"d":{},"c":5,"s":6,"a":"soon"}'), { d: {}, c: 5, s: 6, l: null, ip: null, ua: null });
    assert.deepEqual(parsePayload('{"d":{},"c":5,"s":6,"a":7}'), { d: {}, c: 5, s: 6, l: null, ip: null, ua: null, a: 7 });
    assert.deepEqual(parseSealedPayload('{"i":"x","d":{},"c":5,"s":6,"pc":false}'), { i: 'x', u: null, d: {}, c: 5, s: 6, l: null, ip: null, ua: null, pc: false });
  });
});
