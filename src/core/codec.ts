/**
 * The record codec: a session's state to the record a server store keeps, and back. The payload
 * is JSON, sealed under the `data` subkey with encryption at rest, bound to its store key and to
 * the fields a store keeps beside it (version, tenant, user): a record moved to another key, or
 * whose indexed fields were changed in the database (`SET user_id = 'admin'`), does not open.
 * Records sealed in the Sealer's format 1 were bound to their store key alone; they still open
 * (until they expire, or their next write seals them bound to all of it). The session data is
 * capped at `maxDataBytes` as JSON. Two private speed-ups live here and nowhere else:
 * a cache of recently decoded records, and records that carry their payload for tessera's own
 * MemoryStore, which keeps record objects as they are.
 *
 * @module
 * @internal
 */
import { GenerationalCache } from '../cache.js';
import { Sealer } from '../crypto/seal.js';
import { allPrimitive, assertDataSize, copyPayload, parsePayload, PayloadEncoder, primitiveDataBound, type Payload } from '../payload.js';
import type { SessionData } from '../session-values.js';
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
    return (this.#data ??= this.codec.text(this.payload, this.key, this));
  }
}

/** What a record's seal is bound to besides its store key: the fields a store keeps (and may index) beside the data. */
export type SealedFields = Pick<StoreRecord, 'version' | 'userId' | 'tenant'>;

/** The additional data a record's seal (format 2) is bound to: its store key and {@link SealedFields}, unambiguously. */
function recordContext(key: string, fields: SealedFields): Buffer {
  return Buffer.from(JSON.stringify([key, fields.version, fields.tenant, fields.userId]));
}

/** A decoded record remembered: its text and sealed fields, and what they decode to. */
interface Decoded extends SealedFields {
  readonly data: string;
  readonly payload: Payload;
}

/**
 * Encodes states into store records and applies records to states.
 *
 * @example
 * ```ts
 * const codec = new RecordCodec(policy, encryptData ? new Sealer(keyring.keys('data')) : null, driver.retainsRecords, 65_536);
 * await store.set(key, codec.encode(state, now), state.version, { now });
 * ```
 */
export class RecordCodec {
  readonly #policy: Policy;
  readonly #sealer: Sealer | null;
  readonly #retains: boolean;
  readonly #maxDataBytes: number;
  readonly #encoder = new PayloadEncoder();
  /** Store key → the record last seen for it and its payload (only payloads whose data values are all primitives). */
  readonly #decoded = new GenerationalCache<string, Decoded>(DECODED_CACHE_MAX);

  /**
   * @param sealer seals payloads at rest (`encryptData`), or `null` for plain JSON.
   * @param retains the store keeps record objects as given (see {@link StoreDriver.retainsRecords}).
   * @param maxDataBytes the largest session data written, as JSON in UTF-8 bytes (`Infinity`: no cap).
   */
  constructor(policy: Policy, sealer: Sealer | null, retains: boolean, maxDataBytes: number) {
    this.#policy = policy;
    this.#sealer = sealer;
    this.#retains = retains;
    this.#maxDataBytes = maxDataBytes;
  }

  /**
   * The record of `state` written at `now`: the next version, expiring per policy.
   *
   * @throws {@link PayloadTooLargeError} when the session data is over `maxDataBytes` as JSON.
   */
  encode(state: SessionState, now: number): StoreRecord {
    // A record kept as an object gets a copy of the data (the handler may still change the
    // state's): made here, so the payload is the record's snapshot as it is.
    const retained = this.#retains && allPrimitive(state.data);
    const key = state.key!;
    const version = state.version + 1;
    const expiresAt = expiry(this.#policy, { createdAt: state.createdAt, lastSeenAt: now, lifetime: state.lifetime, tenant: state.tenant });
    if (retained) {
      this.#assertRetainedSize(state.data);
      return new RetainedRecord(payloadOf(state, now, { ...state.data }), key, version, expiresAt, state.userId, state.tenant, this);
    }
    const payload = payloadOf(state, now);
    const dataJson = JSON.stringify(payload.d);
    assertDataSize(dataJson, this.#maxDataBytes);
    const record = { data: '', version, expiresAt, userId: state.userId, tenant: state.tenant };
    record.data = this.text(payload, key, record, dataJson);
    // The next request usually reads back exactly this record (the cache gets a copy: the
    // payload's data is the state's).
    this.#remember(record, key, payload, true);
    return record;
  }

  /** Replace the stored fields of `state` (whose `key` is set) with `record`'s. False when the record cannot be read. */
  apply(state: SessionState, record: StoreRecord): boolean {
    const key = state.key!;
    const payload =
      record instanceof RetainedRecord && record.codec === this && record.key === key
        ? record.payload
        : typeof record.data === 'string'
          ? this.#decode(record, key)
          : null;
    if (payload === null) return false;
    // The payload may be shared (cached, or a record's snapshot): the state gets a data object of its own.
    state.data = { ...payload.d };
    state.version = record.version;
    adoptPayload(state, payload);
    state.userId = record.userId;
    return true;
  }

  /**
   * The stored text of `payload` in the record under `key` with `fields`: its JSON, sealed (and
   * bound to both) with encryption at rest. `dataJson` is its data's JSON, if already written.
   */
  text(payload: Payload, key: string, fields: SealedFields, dataJson?: string): string {
    const json = this.#encoder.encode(payload, dataJson);
    return this.#sealer ? this.#sealer.seal(json, recordContext(key, fields)) : json;
  }

  /** The payload of `record`, `null` if unreadable. It may be the cached one, shared: the caller copies its data. */
  #decode(record: StoreRecord, key: string): Payload | null {
    const data = record.data;
    // The same record under the same key decodes to the same payload (a sealed one is bound to its key and fields).
    const hit = this.#decoded.get(key);
    if (hit !== undefined && hit.data === data && hit.version === record.version && hit.userId === record.userId && hit.tenant === record.tenant) {
      return hit.payload;
    }
    const json = this.#sealer ? this.#open(this.#sealer, record, key) : data;
    const payload = json === null ? null : parsePayload(json);
    if (payload !== null) this.#remember(record, key, payload, false);
    return payload;
  }

  /** The JSON sealed in `record`, if it opens bound to `key` and to the record's own fields. */
  #open(sealer: Sealer, record: StoreRecord, key: string): string | null {
    const data = record.data;
    const format = Sealer.formatOf(data);
    if (format === 2) return sealer.open(data, recordContext(key, record));
    // Format 1 was bound to the store key alone: its fields are as the store says until it is written again.
    return format === 1 ? sealer.open(data, key) : null;
  }

  /**
   * Remember `payload` as what `record` decodes to, if a shallow copy of its data is a full copy (no
   * value is an object or array a handler could change in place). The cache keeps `payload` itself
   * unless `copy`: the caller must not change it afterwards.
   */
  #remember(record: StoreRecord, key: string, payload: Payload, copy: boolean): void {
    if (record.data.length <= DECODED_MAX_LENGTH && allPrimitive(payload.d)) {
      const { data, version, userId, tenant } = record;
      this.#decoded.set(key, { data, version, userId, tenant, payload: copy ? copyPayload(payload) : payload });
    }
    // Whatever was remembered for this key is out of date now.
    else this.#decoded.delete(key);
  }

  /** {@link assertDataSize} for data whose values are all primitives, counted only when a cheap bound is over the cap. */
  #assertRetainedSize(data: SessionData): void {
    if (primitiveDataBound(data) > this.#maxDataBytes) assertDataSize(JSON.stringify(data), this.#maxDataBytes);
  }
}
