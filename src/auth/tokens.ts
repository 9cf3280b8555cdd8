/**
 * The auth cookie's tokens: JWTs signed and verified with `jose`. HS256 under the keyring's `auth`
 * subkey by default (one key per secret, each named by a `kid` derived from it: the first signs,
 * all verify, so secrets rotate as they do for every other cookie), or the app's own keys
 * (asymmetric: ES256, EdDSA, RS256 ...). Every token is checked against an algorithm allow-list
 * (never `none`), the key its `kid` names and that key's algorithm, and `exp`, `nbf`, `iss`, `aud`.
 *
 * A token is bound to its session by `sid`, a hash of the session's store key (itself a hash of
 * tenant and ID; never the ID), and to its tenant by `tid`: checking that binding is the Session's
 * part (src/auth/session-auth.ts), as only it knows the session the request loaded.
 *
 * @module
 */
import { createHash, KeyObject, type webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import { resolveCookieOptions, type ResolvedCookie } from '../cookie.js';
import type { Keyring } from '../crypto/keyring.js';
import { ConfigError } from '../errors.js';
import { jose } from './jose.js';

/**
 * The claims a token carries: `sub` (the user) and whatever the app added at sign-in; verified
 * tokens also carry the registered ones tessera set.
 *
 * @example
 * ```ts
 * const claims: AuthClaims = { sub: 'u1', role: 'admin' };
 * ```
 */
export interface AuthClaims {
  readonly sub: string;
  readonly iss?: string;
  readonly aud?: string | string[];
  readonly exp?: number;
  readonly nbf?: number;
  readonly iat?: number;
  /** A hash of the session's store key: the session the token is bound to. */
  readonly sid?: string;
  /** The tenant of that session, if it has one. */
  readonly tid?: string;
  readonly [claim: string]: unknown;
}

/** A key of the app's own (`auth.keys`): `privateKey` signs (the first key with one), `publicKey` verifies. */
export interface AuthKey {
  /** Names the key in the token header; unique among the keys. */
  kid: string;
  /** Its algorithm, for example `'ES256'`, `'EdDSA'`, `'RS256'` or `'HS256'` (a secret as `publicKey`). */
  alg: string;
  /** Signs new tokens; a key without one only verifies (a key being rotated out). */
  privateKey?: KeyObject | CryptoKey;
  /** Verifies tokens (for HMAC algorithms, the shared secret). */
  publicKey: KeyObject | CryptoKey | Uint8Array;
}

/**
 * Options of the auth cookie (`auth` in {@link TesseraOptions}); `auth: false` turns it off
 * (`session.signIn` then throws).
 *
 * @example
 * ```ts
 * createTessera({ auth: { issuer: 'https://app.example', audience: 'app', lifetime: 8 * 3600_000 } });
 * ```
 */
export interface AuthOptions {
  /** The cookie: default name `__Host-tessera-auth` (or `tessera-auth` where the session cookie cannot be `__Host-`), HttpOnly, otherwise like the session cookie. */
  cookie?: { name?: string };
  /** How long (ms) a token is valid. Default: as long as its session can live (its absolute limit, at most `maxLifetime`). */
  lifetime?: number;
  /** `iss` put in tokens and required of them. Default none. */
  issuer?: string;
  /** `aud` put in tokens and required of them. Default none. */
  audience?: string;
  /** Algorithms a token may use. Default: those of the keys (`['HS256']` without `keys`). `none` is refused. */
  algorithms?: readonly string[];
  /** The app's keys instead of the keyring's HS256 subkeys: the first with a `privateKey` signs, all verify. */
  keys?: readonly AuthKey[];
  /** Leeway (seconds) for `exp` and `nbf` between servers' clocks. Default 0. */
  clockTolerance?: number;
}

/** Why a token was refused (the `invalidAuth` event's `reason`). */
export type AuthFailure = 'malformed' | 'unknown-key' | 'algorithm' | 'signature' | 'expired' | 'claims' | 'session' | 'revoked';

/** Claims the app cannot set at sign-in: tessera writes them. */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sid', 'tid']);

const KNOWN_ALGORITHMS = new Set(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);
const MAX_TOKEN_LENGTH = 4096;

interface Key {
  readonly kid: string;
  readonly alg: string;
  readonly sign: KeyObject | CryptoKey | Uint8Array | null;
  readonly verify: KeyObject | CryptoKey | Uint8Array;
}

/**
 * `sid` of a token bound to the session with store key `key`: a hash of it under its own label,
 * so the token shows neither the ID nor the store key.
 *
 * @example
 * ```ts
 * sessionBinding(storeKey(id, 'acme')); // 43 base64url characters
 * ```
 */
export function sessionBinding(key: string): string {
  return createHash('sha256').update(`tessera/auth-binding\u0000${key}`).digest('base64url');
}

/** A short `kid` for a keyring subkey: a hash of it, which tells nothing of the key. */
function kidOf(key: Uint8Array): string {
  return createHash('sha256').update('tessera/auth-kid\u0000').update(key).digest('base64url').slice(0, 16);
}

/**
 * Signs and verifies the auth cookie's tokens. Made once by the manager (`tessera.auth`).
 *
 * @example
 * ```ts
 * const token = await tessera.auth!.sign({ sub: 'u1' }, { binding: sessionBinding(key), tenant: null, now, exp: now + 3600_000 });
 * await tessera.auth!.verify(token, now); // { claims } or { failure }
 * ```
 */
export class AuthTokens {
  /** The cookie the token travels in (HttpOnly). */
  readonly cookie: ResolvedCookie;
  /** `auth.lifetime`, or `null` for as long as the session can live. */
  readonly lifetime: number | null;
  readonly #keys: readonly Key[];
  readonly #signer: Key;
  readonly #issuer: string | undefined;
  readonly #audience: string | undefined;
  readonly #tolerance: number;

  /** @throws {@link ConfigError} on bad options. */
  constructor(keyring: Keyring, options: AuthOptions, sessionCookie: ResolvedCookie) {
    if (options === null || typeof options !== 'object') throw new ConfigError('auth must be an options object or false');
    const given = options.cookie ?? {};
    if (given === null || typeof given !== 'object') throw new ConfigError('auth.cookie must be { name }');
    this.cookie = resolveCookieOptions(
      { name: given.name, path: sessionCookie.path, domain: sessionCookie.domain, secure: sessionCookie.secure, sameSite: sessionCookie.sameSite, partitioned: sessionCookie.partitioned, httpOnly: true },
      'tessera-auth',
    );
    const lifetime = options.lifetime;
    if (lifetime !== undefined && !(Number.isFinite(lifetime) && lifetime >= 1000)) throw new ConfigError('auth.lifetime must be a finite number of ms, at least 1000');
    this.lifetime = lifetime ?? null;
    for (const [name, value] of [['issuer', options.issuer], ['audience', options.audience]] as const) {
      if (value !== undefined && (typeof value !== 'string' || value === '')) throw new ConfigError(`auth.${name} must be a non-empty string`);
    }
    this.#issuer = options.issuer;
    this.#audience = options.audience;
    const tolerance = options.clockTolerance ?? 0;
    if (!(Number.isFinite(tolerance) && tolerance >= 0 && tolerance <= 300)) throw new ConfigError('auth.clockTolerance must be seconds from 0 to 300');
    this.#tolerance = tolerance;
    const keys = options.keys === undefined ? keyring.keys('auth').map((k): Key => ({ kid: kidOf(k), alg: 'HS256', sign: k, verify: k })) : ownKeys(options.keys);
    const allowed = options.algorithms ?? [...new Set(keys.map((k) => k.alg))];
    if (!Array.isArray(allowed) || allowed.length === 0) throw new ConfigError('auth.algorithms must be a non-empty list of algorithms');
    for (const alg of allowed) {
      if (typeof alg !== 'string' || alg.toLowerCase() === 'none') throw new ConfigError('auth.algorithms: "none" is never allowed (unsigned tokens)');
      if (!KNOWN_ALGORITHMS.has(alg)) throw new ConfigError(`auth.algorithms: ${JSON.stringify(alg)} is not a JWS algorithm tessera knows`);
    }
    // Every key must be usable: a key of an algorithm outside the list is a configuration mistake.
    for (const key of keys) if (!allowed.includes(key.alg)) throw new ConfigError(`auth.keys: key ${JSON.stringify(key.kid)} uses ${key.alg}, which auth.algorithms does not allow`);
    this.#keys = keys;
    const signer = keys.find((k) => k.sign !== null);
    if (signer === undefined) throw new ConfigError('auth.keys: no key has a privateKey to sign with');
    this.#signer = signer;
  }

  /**
   * A token of `claims` (with `sub`) bound to a session (`binding`, `tenant`), issued at `now`
   * (ms) and expiring at `exp` (ms).
   */
  async sign(claims: AuthClaims, at: { binding: string; tenant: string | null; now: number; exp: number }): Promise<string> {
    const seconds = Math.floor(at.now / 1000);
    const payload: Record<string, unknown> = { ...claims, sid: at.binding };
    if (at.tenant !== null) payload.tid = at.tenant;
    const { SignJWT } = await jose();
    const jwt = new SignJWT(payload)
      .setProtectedHeader({ alg: this.#signer.alg, kid: this.#signer.kid, typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuedAt(seconds)
      .setNotBefore(seconds)
      .setExpirationTime(Math.floor(at.exp / 1000));
    if (this.#issuer !== undefined) jwt.setIssuer(this.#issuer);
    if (this.#audience !== undefined) jwt.setAudience(this.#audience);
    return jwt.sign(this.#signer.sign!);
  }

  /**
   * The claims of `token` at `now` (ms), if its signature, key, algorithm, `exp`, `nbf`, `iss`
   * and `aud` are good; else why not. Never throws.
   */
  async verify(token: string, now: number): Promise<{ claims: AuthClaims } | { failure: AuthFailure }> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { failure: 'malformed' };
    // Decoding ignores the unused low bits of a segment's last character: insist on the one
    // canonical spelling, so a token has one spelling (as session-ID signatures do).
    if (!token.split('.').every((part) => Buffer.from(part, 'base64url').toString('base64url') === part)) return { failure: 'malformed' };
    const { decodeProtectedHeader, jwtVerify } = await jose();
    let header: { alg?: string; kid?: string };
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return { failure: 'malformed' };
    }
    const key = this.#keys.find((k) => k.kid === header.kid);
    if (key === undefined) return { failure: 'unknown-key' };
    if (header.alg !== key.alg) return { failure: 'algorithm' };
    try {
      const { payload } = await jwtVerify(token, key.verify, {
        algorithms: [key.alg],
        issuer: this.#issuer,
        audience: this.#audience,
        currentDate: new Date(now),
        clockTolerance: this.#tolerance,
        requiredClaims: ['sub', 'iat', 'nbf', 'exp', 'sid'],
      });
      if (typeof payload.sub !== 'string' || payload.sub === '' || typeof payload.sid !== 'string') return { failure: 'claims' };
      return { claims: payload as unknown as AuthClaims };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED') return { failure: 'expired' };
      if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return { failure: 'signature' };
      if (code === 'ERR_JOSE_ALG_NOT_ALLOWED') return { failure: 'algorithm' };
      if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return { failure: 'claims' };
      return { failure: 'malformed' };
    }
  }
}

function ownKeys(keys: readonly AuthKey[]): Key[] {
  if (!Array.isArray(keys) || keys.length === 0) throw new ConfigError('auth.keys must be a non-empty list of { kid, alg, privateKey?, publicKey }');
  const seen = new Set<string>();
  return keys.map((key) => {
    if (key === null || typeof key !== 'object') throw new ConfigError('auth.keys: each key must be { kid, alg, privateKey?, publicKey }');
    if (typeof key.kid !== 'string' || key.kid === '' || seen.has(key.kid)) throw new ConfigError('auth.keys: each key needs its own non-empty kid');
    seen.add(key.kid);
    if (typeof key.alg !== 'string' || key.alg.toLowerCase() === 'none') throw new ConfigError(`auth.keys: key ${JSON.stringify(key.kid)}: "none" is never allowed`);
    if (!KNOWN_ALGORITHMS.has(key.alg)) throw new ConfigError(`auth.keys: key ${JSON.stringify(key.kid)}: ${JSON.stringify(key.alg)} is not a JWS algorithm tessera knows`);
    const hmac = key.alg.startsWith('HS');
    if (hmac && !(key.publicKey instanceof Uint8Array && key.publicKey.byteLength >= 32)) {
      throw new ConfigError(`auth.keys: key ${JSON.stringify(key.kid)}: an ${key.alg} key is a secret of at least 32 bytes (as publicKey)`);
    }
    if (!hmac && (key.publicKey === undefined || key.publicKey instanceof Uint8Array)) {
      throw new ConfigError(`auth.keys: key ${JSON.stringify(key.kid)}: publicKey must be a KeyObject or CryptoKey`);
    }
    if (key.privateKey instanceof KeyObject && key.privateKey.type !== 'private') throw new ConfigError(`auth.keys: key ${JSON.stringify(key.kid)}: privateKey is not a private key`);
    const sign = hmac ? key.publicKey : (key.privateKey ?? null);
    return { kid: key.kid, alg: key.alg, sign, verify: key.publicKey };
  });
}
