/**
 * The serialised form of a session (what the manager writes into a store record or seals into a
 * cookie), its encoder, and the helpers of the manager's decoded-payload caches. Internal: the
 * format is the manager's business, never a store's.
 *
 * @module
 * @internal
 */
import { PayloadTooLargeError } from './errors.js';
import type { SessionData } from './session-values.js';

/**
 * The serialised form of a session inside a store record.
 *
 * @example
 * ```ts
 * const p: Payload = { d: { n: 1 }, c: 1767225600000, s: 1767225600000, l: null, ip: '203.0.113.7', ua: 'curl/8' };
 * ```
 */
export interface Payload {
  /** The session's data. */
  d: SessionData;
  /** Created at (ms since the epoch). */
  c: number;
  /** Last seen at (ms since the epoch). */
  s: number;
  /** Per-session lifetime (remember me), or null for the configured idle timeout. */
  l: number | null;
  /** Client IP address last seen. */
  ip: string | null;
  /** Client user agent last seen. */
  ua: string | null;
  /** Per-session cookie persistence override; absent when it follows the options. */
  pc?: boolean;
  /** When the user signed in (`session.signIn`), ms since the epoch; absent when never. */
  a?: number;
}

/**
 * A session sealed into a cookie: the payload plus what a server record keeps beside it.
 *
 * @example
 * ```ts
 * const p: SealedPayload = { i: id, u: null, d: {}, c: now, s: now, l: null, ip: null, ua: null };
 * ```
 */
export interface SealedPayload extends Payload {
  /** Session ID. */
  i: string;
  /** User ID. */
  u: string | null;
}

/**
 * Whether a shallow copy of `data` is a full copy and reads back as what JSON would give: no value
 * is an object or array (a handler could change it in place), and no number is one JSON cannot
 * hold (`NaN` and `±Infinity` read back as `null`, `-0` as `0`), so a cached copy never differs
 * from what another process decodes.
 *
 * @example
 * ```ts
 * allPrimitive({ n: 1, s: 'a' }); // true
 * allPrimitive({ cart: [] });     // false
 * ```
 */
export function allPrimitive(data: SessionData): boolean {
  for (const k in data) {
    const v = data[k];
    if (typeof v === 'object' ? v !== null : typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return false;
  }
  return true;
}

/**
 * A copy of `payload` whose data object is its own (a full copy when {@link allPrimitive} holds).
 *
 * @example
 * ```ts
 * const mine = copyPayload(cached); mine.d.n = 2; // cached.d.n is unchanged
 * ```
 */
export function copyPayload<P extends Payload>(payload: P): P {
  return { ...payload, d: { ...payload.d } };
}

/**
 * The payload in `json`, or `null` when it is not JSON or not a payload (no data object, or no
 * numeric created / last-seen times). Optional fields
 * missing or of another type (a record written by another tool) come back as `null`, so a state
 * made from the payload always has its declared types.
 *
 * @example
 * ```ts
 * parsePayload('{"d":{"n":1},"c":0,"s":0}'); // { d: { n: 1 }, c: 0, s: 0, l: null, ip: null, ua: null }
 * parsePayload('not json');                   // null
 * ```
 */
export function parsePayload(json: string): Payload | null {
  return parse(json, false);
}

/**
 * {@link parsePayload} for a session sealed into a cookie: its session ID is required too, and a
 * missing user ID comes back as `null`.
 *
 * @example
 * ```ts
 * parseSealedPayload('{"i":"x","d":{},"c":0,"s":0}'); // { i: 'x', u: null, d: {}, c: 0, s: 0, l: null, ip: null, ua: null }
 * ```
 */
export function parseSealedPayload(json: string): SealedPayload | null {
  return parse(json, true) as SealedPayload | null;
}

function parse(json: string, sealed: boolean): Payload | null {
  let p: SealedPayload;
  try {
    p = JSON.parse(json) as SealedPayload;
  } catch {
    return null;
  }
  if (p === null || typeof p !== 'object' || typeof p.d !== 'object' || p.d === null || typeof p.c !== 'number' || typeof p.s !== 'number') return null;
  if (sealed) {
    if (typeof p.i !== 'string') return null;
    if (typeof p.u !== 'string') p.u = null;
  }
  if (typeof p.l !== 'number') p.l = null;
  if (typeof p.ip !== 'string') p.ip = null;
  if (typeof p.ua !== 'string') p.ua = null;
  if (p.pc !== undefined && typeof p.pc !== 'boolean') delete p.pc;
  if (p.a !== undefined && !(typeof p.a === 'number' && Number.isFinite(p.a))) delete p.a;
  return p;
}

/**
 * Refuse session data whose JSON, `dataJson`, is over `max` bytes of UTF-8 (`what` names it in the message).
 *
 * @throws {@link PayloadTooLargeError} when it is.
 * @example
 * ```ts
 * assertDataSize(JSON.stringify(state.data), options.maxDataBytes);
 * ```
 */
export function assertDataSize(dataJson: string, max: number, what = 'the session data'): void {
  // A UTF-16 unit is at most 3 bytes of UTF-8: most data is far below the cap and needs no count.
  if (dataJson.length * 3 <= max) return;
  const size = Buffer.byteLength(dataJson);
  if (size > max) {
    throw new PayloadTooLargeError(
      `${what} is ${size} bytes as JSON, over the ${max}-byte maxDataBytes limit: store less in the session, or raise maxDataBytes`,
      size,
      max,
    );
  }
}

/**
 * An upper bound of the UTF-8 bytes of `JSON.stringify(data)` for data whose values are all
 * primitives ({@link allPrimitive}), without writing it: a UTF-16 unit of a key or string is at
 * most 6 bytes escaped (`\u001f`), and a number under 32 characters.
 *
 * @example
 * ```ts
 * if (primitiveDataBound(data) > max) assertDataSize(JSON.stringify(data), max);
 * ```
 */
export function primitiveDataBound(data: SessionData): number {
  let bound = 2;
  for (const k in data) {
    const v = data[k];
    bound += 6 * k.length + 4 + (typeof v === 'string' ? 6 * v.length + 2 : 32);
  }
  return bound;
}

/** A number as JSON writes it (`null` for NaN and ±Infinity; `-0` is written `0` by both). */
function jsonNumber(n: number | null): string {
  return n !== null && Number.isFinite(n) ? `${n}` : 'null';
}

/**
 * Writes payloads as `JSON.stringify` would, character for character, in about half its time on
 * the hot path: only the data goes through `JSON.stringify`, and the IP address and user agent —
 * the same from one request to the next — are quoted once and remembered (one of each).
 *
 * @example
 * ```ts
 * const encoder = new PayloadEncoder();
 * encoder.encode(payload) === JSON.stringify(payload); // true
 * ```
 */
export class PayloadEncoder {
  #ip: string | null = null;
  #ipJson = 'null';
  #ua: string | null = null;
  #uaJson = 'null';

  /**
   * `JSON.stringify(payload)` for a {@link Payload}, or a {@link SealedPayload} (its `i` and `u`
   * first, as they were made). `dataJson`, when given, is `JSON.stringify(p.d)` already written.
   */
  encode(p: Payload | SealedPayload, dataJson?: string): string {
    // A field of another shape (a record written elsewhere may lack `ip`, `ua` or `l`, which the
    // manager reads as they are): JSON.stringify itself, which leaves undefined fields out.
    if (!isTextOrNull(p.ip) || !isTextOrNull(p.ua) || typeof p.c !== 'number' || typeof p.s !== 'number' || (p.l !== null && typeof p.l !== 'number') || (p.pc !== undefined && typeof p.pc !== 'boolean') || (p.a !== undefined && typeof p.a !== 'number') || ('i' in p && (typeof p.i !== 'string' || !isTextOrNull(p.u)))) {
      return JSON.stringify(p);
    }
    if (p.ip !== this.#ip) this.#ipJson = quote((this.#ip = p.ip));
    if (p.ua !== this.#ua) this.#uaJson = quote((this.#ua = p.ua));
    const head = 'i' in p ? `{"i":${JSON.stringify(p.i)},"u":${quote(p.u)},"d":` : '{"d":';
    const auth = p.a === undefined ? '' : `,"a":${jsonNumber(p.a)}`;
    const tail = p.pc === undefined ? `${auth}}` : `,"pc":${p.pc}${auth}}`;
    return `${head}${dataJson ?? JSON.stringify(p.d)},"c":${jsonNumber(p.c)},"s":${jsonNumber(p.s)},"l":${jsonNumber(p.l)},"ip":${this.#ipJson},"ua":${this.#uaJson}${tail}`;
  }
}

function quote(s: string | null): string {
  return s === null ? 'null' : JSON.stringify(s);
}

function isTextOrNull(v: unknown): v is string | null {
  return v === null || typeof v === 'string';
}
