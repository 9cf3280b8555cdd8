/**
 * The record codec: a session's state to the record a server store keeps, and back. The payload
 * is JSON, sealed under the `data` subkey with encryption at rest (bound to its store key, so a
 * record moved to another key does not open). Two private speed-ups live here and nowhere else:
 * a cache of recently decoded records, and records that carry their payload for tessera's own
 * MemoryStore, which keeps record objects as they are.
 *
 * @module
 * @internal
 */
import { GenerationalCache } from '../cache.js';
import type { Sealer } from '../crypto/seal.js';
import { allPrimitive, copyPayload, parsePayload, PayloadEncoder, type Payload } from '../payload.js';
import type { StoreRecord } from '../stores/store.js';
import { expiry, type Policy } from './policy.js';
import { adoptPayload, payloadOf, type SessionState } from './state.js';

/**
 * The last record decoded (or encoded) by this process for each of this many sessions, when its
 * values are all primitives, so reading the same record again costs a shallow copy instead of
 * `JSON.parse` (and, with `encryptData`, a decryption). Keyed by store key, one entry per session:
 * a write replaces it, so the cache grows with sessions, not with writes.
 */
const DECODED_CACHE_MAX = 4_096;
/** Records longer than this (characters) are decoded every time, so the full cache holds tens of MB at most. */
const DECODED_MAX_LENGTH = 4_096;

/**
 * A record written for a store that keeps record objects (tessera's MemoryStore): it carries its
 * payload (a snapshot, never changed), so reading it back needs no decoding, and its text is
 * written only if something reads `data`. Made only for payloads whose data values are all
 * primitives, where the snapshot is a shallow copy.
 */
class RetainedRecord implements StoreRecord {
  #data: string | undefined;

  constructor(
    readonly payload: Payload,
    /** The key it was written under: a copy under another key is decoded from its text instead. */
    readonly key: string,
    readonly version: number,
    readonly expiresAt: number,
    readonly userId: string | null,
    readonly tenant: string | null,
    /** The codec that wrote it: only that codec takes the payload as it is (another may hold other secrets). */
    readonly codec: RecordCodec,
  ) {}

  get data(): string {
    return (this.#data ??= this.codec.text(this.payload, this.key));
  }
}

/**
 * Encodes states into store records and applies records to states.
 *
 * @example
 * ```ts
 * const codec = new RecordCodec(policy, encryptData ? new Sealer(keyring.keys('data')) : null, driver.retainsRecords);
 * await store.set(key, codec.encode(state, now), state.version, { now });
 * ```
 */
export class RecordCodec {
  readonly #policy: Policy;
  readonly #sealer: Sealer | null;
  readonly #retains: boolean;
  readonly #encoder = new PayloadEncoder();
  /** Store key → the stored string last seen for it and its payload (only payloads whose data values are all primitives). */
  readonly #decoded = new GenerationalCache<string, { data: string; payload: Payload }>(DECODED_CACHE_MAX);

  /**
   * @param sealer seals payloads at rest (`encryptData`), or `null` for plain JSON.
   * @param retains the store keeps record objects as given (see {@link StoreDriver.retainsRecords}).
   */
  constructor(policy: Policy, sealer: Sealer | null, retains: boolean) {
    this.#policy = policy;
    this.#sealer = sealer;
    this.#retains = retains;
  }

  /** The record of `state` written at `now`: the next version, expiring per policy. */
  encode(state: SessionState, now: number): StoreRecord {
    // A record kept as an object gets a copy of the data (the handler may still change the
    // state's): made here, so the payload is the record's snapshot as it is.
    const retained = this.#retains && allPrimitive(state.data);
    const payload = payloadOf(state, now, retained ? { ...state.data } : state.data);
    const key = state.key!;
    const version = state.version + 1;
    const expiresAt = expiry(this.#policy, { createdAt: state.createdAt, lastSeenAt: now, lifetime: state.lifetime, tenant: state.tenant });
    if (retained) return new RetainedRecord(payload, key, version, expiresAt, state.userId, state.tenant, this);
    const data = this.text(payload, key);
    // The next request usually reads back exactly this record (the cache gets a copy: the
    // payload's data is the state's).
    this.#remember(data, key, payload, true);
    return { data, version, expiresAt, userId: state.userId, tenant: state.tenant };
  }

  /** Replace the stored fields of `state` (whose `key` is set) with `record`'s. False when the record cannot be read. */
  apply(state: SessionState, record: StoreRecord): boolean {
    const key = state.key!;
    const payload =
      record instanceof RetainedRecord && record.codec === this && record.key === key
        ? record.payload
        : typeof record.data === 'string'
          ? this.#decode(record.data, key)
          : null;
    if (payload === null) return false;
    // The payload may be shared (cached, or a record's snapshot): the state gets a data object of its own.
    state.data = { ...payload.d };
    state.version = record.version;
    adoptPayload(state, payload);
    state.userId = record.userId;
    return true;
  }

  /** The stored text of `payload` under `key`: its JSON, sealed with encryption at rest. */
  text(payload: Payload, key: string): string {
    const json = this.#encoder.encode(payload);
    return this.#sealer ? this.#sealer.seal(json, key) : json;
  }

  /** The payload in a stored string, `null` if unreadable. It may be the cached one, shared: the caller copies its data. */
  #decode(data: string, key: string): Payload | null {
    // The same string under the same key decodes to the same payload (a sealed one is bound to its key).
    const hit = this.#decoded.get(key);
    if (hit !== undefined && hit.data === data) return hit.payload;
    const json = this.#sealer ? (data.startsWith('{') ? null : this.#sealer.open(data, key)) : data;
    const payload = json === null ? null : parsePayload(json);
    if (payload !== null) this.#remember(data, key, payload, false);
    return payload;
  }

  /**
   * Remember `payload` as what `data` decodes to, if a shallow copy of its data is a full copy (no
   * value is an object or array a handler could change in place). The cache keeps `payload` itself
   * unless `copy`: the caller must not change it afterwards.
   */
  #remember(data: string, key: string, payload: Payload, copy: boolean): void {
    if (data.length <= DECODED_MAX_LENGTH && allPrimitive(payload.d)) this.#decoded.set(key, { data, payload: copy ? copyPayload(payload) : payload });
    // Whatever was remembered for this key is out of date now.
    else this.#decoded.delete(key);
  }
}
