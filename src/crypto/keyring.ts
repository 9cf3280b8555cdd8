/**
 * The keyring: one or more secrets for rotation (the first signs and encrypts, every one verifies
 * and decrypts) and a separate subkey per purpose derived with HKDF-SHA256, so a key used to sign
 * cookies is never also the key that encrypts data.
 *
 * @module
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { SecretError } from '../errors.js';

/** A secret: a string (UTF-8) or raw bytes, at least 32 bytes long. */
export type Secret = string | Uint8Array;

/**
 * What a subkey is for. Each purpose gets its own key, derived from every secret.
 * `cookie` signs session-ID cookies, `csrf` derives CSRF tokens, `auth` signs auth tokens,
 * `data` encrypts session data at rest and in cookies.
 */
export type KeyPurpose = 'cookie' | 'csrf' | 'auth' | 'data' | 'live';

/** The shortest secret accepted, in bytes. */
export const MIN_SECRET_BYTES = 32;

const HKDF_SALT = Buffer.from('tessera/keyring/v1');

/** The environment variable read when no secret is passed: secrets separated by commas, current first. */
export const SECRETS_ENV = 'TESSERA_SECRETS';

/** Options of {@link Keyring.from}. */
export interface KeyringOptions {
  /** `true` refuses to run without a configured secret. Defaults to `NODE_ENV === 'production'`. */
  production?: boolean;
  /** Called once when no secret is configured and a random per-process one is used instead. */
  warn?: (message: string) => void;
}

/**
 * Derived keys for each purpose, one per configured secret, in rotation order.
 *
 * @example
 * ```ts
 * const keyring = Keyring.from([process.env.SESSION_SECRET!, process.env.OLD_SESSION_SECRET!]);
 * const sig = keyring.sign('cookie', 'abc');
 * keyring.verify('cookie', 'abc', sig); // true
 * ```
 */
export class Keyring {
  /** True when no secret was configured and a random one was generated for this process. */
  readonly ephemeral: boolean;
  readonly #keys: Map<KeyPurpose, Buffer[]>;

  private constructor(secrets: Uint8Array[], ephemeral: boolean) {
    this.ephemeral = ephemeral;
    this.#keys = new Map();
    for (const purpose of ['cookie', 'csrf', 'auth', 'data', 'live'] as const) {
      this.#keys.set(
        purpose,
        secrets.map((s) => Buffer.from(hkdfSync('sha256', s, HKDF_SALT, `tessera/${purpose}`, 32))),
      );
    }
  }

  /**
   * Build a keyring from the configured secrets (first = current). With `secrets` undefined, the
   * `TESSERA_SECRETS` environment variable is read instead: secrets separated by commas, current
   * first, each trimmed of surrounding whitespace (so no secret there may hold a comma).
   *
   * @throws {@link SecretError} if a secret is shorter than 32 bytes, is `undefined` (an unset
   * environment variable), is an empty entry of `TESSERA_SECRETS`, or if none is given in production.
   * @example
   * ```ts
   * const keyring = Keyring.from(process.env.SESSION_SECRET); // one secret
   * const rotated = Keyring.from([newSecret, oldSecret]);      // rotation: new signs, both verify
   * const fromEnv = Keyring.from(undefined);                   // TESSERA_SECRETS="new,old", if set
   * ```
   */
  static from(secrets: Secret | readonly Secret[] | undefined, options: KeyringOptions = {}): Keyring {
    if (secrets === undefined) {
      const fromEnv = process.env[SECRETS_ENV];
      if (fromEnv !== undefined) return new Keyring(secretsFromEnv(fromEnv), false);
    }
    const list = secrets === undefined ? [] : Array.isArray(secrets) ? [...secrets] : [secrets as Secret];
    if (list.length === 0) {
      const production = options.production ?? process.env.NODE_ENV === 'production';
      if (production) {
        throw new SecretError(
          `no secret configured: set \`secrets\` or ${SECRETS_ENV} (each at least 32 bytes, e.g. from generateSecret() ` +
            'or `openssl rand -base64 32`; if you pass an environment variable, is it set?); ' +
            'a random per-process secret is refused when NODE_ENV=production',
        );
      }
      (options.warn ?? ((m: string) => process.emitWarning(m, 'TesseraWarning')))(
        'tessera: no secret configured (if you pass one from an environment variable, it is unset), using a random ' +
          'one for this process only; sessions will not survive a restart and will not work across processes. ' +
          `Set \`secrets\` or ${SECRETS_ENV} before production.`,
      );
      return new Keyring([randomBytes(32)], true);
    }
    return new Keyring(list.map((secret, i) => secretBytes(secret, `secret #${i + 1}`)), false);
  }

  /**
   * The derived keys for a purpose, current first.
   *
   * @example
   * ```ts
   * const [current, ...older] = keyring.keys('data');
   * ```
   */
  keys(purpose: KeyPurpose): readonly Buffer[] {
    return this.#keys.get(purpose)!;
  }

  /**
   * HMAC-SHA256 of `data` with the current key of `purpose`, base64url (43 characters).
   *
   * @example
   * ```ts
   * const sig = keyring.sign('cookie', sessionId);
   * ```
   */
  sign(purpose: KeyPurpose, data: string): string {
    return createHmac('sha256', this.keys(purpose)[0]!).update(data).digest('base64url');
  }

  /**
   * Whether `signature` is the HMAC of `data` under any key of `purpose`. Constant time in the
   * signature's content.
   *
   * @example
   * ```ts
   * if (!keyring.verify('cookie', id, sig)) startFreshSession();
   * ```
   */
  verify(purpose: KeyPurpose, data: string, signature: string): boolean {
    return this.match(purpose, data, signature) >= 0;
  }

  /**
   * Which key of `purpose` `signature` is the HMAC of `data` under: `0` for the current one, a
   * larger index for an older secret (a value due to be signed again), `-1` for none. Constant time
   * in the signature's content, and every key is evaluated whichever matches, so the time taken
   * tells neither whether nor under which key it verified.
   *
   * @example
   * ```ts
   * const at = keyring.match('cookie', id, sig);
   * if (at < 0) startFreshSession();
   * else if (at > 0) signAgain(id); // made under a secret being rotated out
   * ```
   */
  match(purpose: KeyPurpose, data: string, signature: string): number {
    if (signature.length !== 43) return -1;
    const given = Buffer.from(signature, 'base64url');
    // Decoding ignores the unused low bits of the last character: insist on the one canonical spelling.
    if (given.length !== 32 || given.toString('base64url') !== signature) return -1;
    const keys = this.keys(purpose);
    let found = -1;
    for (let i = keys.length - 1; i >= 0; i--) {
      const expected = createHmac('sha256', keys[i]!).update(data).digest();
      // No early exit: the loop does the same work whichever key matched.
      const equal = timingSafeEqual(expected, given);
      found = equal ? i : found;
    }
    return found;
  }
}

/** A secret's bytes, checked; `what` names it in errors ("secret #2", "TESSERA_SECRETS entry #1"). */
function secretBytes(secret: unknown, what: string): Uint8Array {
  if (secret === undefined) {
    // Most often `process.env.SESSION_SECRET!` with the variable unset: the `!` hides it from TypeScript.
    throw new SecretError(`${what} is undefined — is the environment variable set?`);
  }
  if (typeof secret !== 'string' && !(secret instanceof Uint8Array)) {
    throw new SecretError(`${what} must be a string or a Uint8Array, not ${secret === null ? 'null' : typeof secret}`);
  }
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (bytes.byteLength < MIN_SECRET_BYTES) {
    throw new SecretError(
      `${what} is ${bytes.byteLength} bytes; at least ${MIN_SECRET_BYTES} are required ` +
        '(generate one with generateSecret() or `openssl rand -base64 32`)',
    );
  }
  return bytes;
}

/** The secrets of `TESSERA_SECRETS`: comma-separated, trimmed; an empty entry is a mistake, never skipped. */
function secretsFromEnv(value: string): Uint8Array[] {
  return value.split(',').map((entry, i) => {
    const what = `${SECRETS_ENV} entry #${i + 1}`;
    const secret = entry.trim();
    if (secret === '') throw new SecretError(`${what} is empty: ${SECRETS_ENV} holds secrets separated by commas, current first, none empty`);
    return secretBytes(secret, what);
  });
}

/**
 * A new secret for `secrets` or `TESSERA_SECRETS`: 32 bytes from the CSPRNG, base64url (43
 * characters, no comma). Generate it once and keep it in your secret manager; a secret made at
 * each start would sign everyone out on every restart.
 *
 * @example
 * ```ts
 * import { generateSecret } from 'tessera';
 * console.log(generateSecret()); // 'q3Vh…' (43 characters): put it in TESSERA_SECRETS
 * ```
 */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}
