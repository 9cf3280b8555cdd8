/**
 * express-session's `genid`: session IDs the app chooses, checked as they are made. An ID must be
 * 22 to 128 characters of `A-Z a-z 0-9 _ -` (it goes into the cookie as it is); one that carries
 * less than 128 bits of entropy by its look (a UUID has 122, a short or decimal one less) is
 * warned about once, since a guessable ID is a session anyone can open.
 *
 * @module
 * @internal
 */
import type { IncomingMessage } from 'node:http';
import { isAppId } from '../../crypto/ids.js';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../logger.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The entropy an ID can carry at most, in bits, judged by its alphabet and length (a UUID: 122).
 *
 * @example
 * ```ts
 * entropyBits(randomBytes(32).toString('base64url')); // 258
 * entropyBits('1234567890123456789012');              // 73
 * ```
 */
export function entropyBits(id: string): number {
  if (UUID.test(id)) return 122;
  if (/^[0-9]+$/.test(id)) return id.length * Math.log2(10);
  if (/^[0-9a-f-]+$/i.test(id) && (/^[0-9a-f-]+$/.test(id) || /^[0-9A-F-]+$/.test(id))) return id.replace(/-/g, '').length * 4;
  if (/^[0-9a-z]+$/.test(id) || /^[0-9A-Z]+$/.test(id)) return id.length * Math.log2(36);
  if (/^[0-9A-Za-z]+$/.test(id)) return id.length * Math.log2(62);
  return id.length * 6;
}

/**
 * The app's `genid`, checked: {@link AppIds.generate} gives an ID for a request, or throws.
 *
 * @example
 * ```ts
 * const ids = new AppIds((req) => uuidv4(), logger);
 * ids.generate(req); // '0b6f7e52-…', with a warning (once) that a UUID has 122 bits
 * ```
 */
export class AppIds {
  readonly #genid: (req: IncomingMessage) => unknown;
  readonly #logger: Logger;
  #warned = false;

  constructor(genid: (req: IncomingMessage) => unknown, logger: Logger) {
    this.#genid = genid;
    this.#logger = logger;
  }

  /**
   * A new session ID for `req`, from the app's `genid`.
   *
   * @throws {@link ConfigError} when it is not a string of 22 to 128 characters of `A-Z a-z 0-9 _ -`.
   */
  generate(req: IncomingMessage): string {
    const id = this.#genid(req);
    if (typeof id !== 'string' || !isAppId(id)) {
      throw new ConfigError('session option genid must return 22 to 128 characters of A-Z a-z 0-9 _ - (e.g. crypto.randomBytes(32).toString("base64url"))');
    }
    if (!this.#warned && entropyBits(id) < 128) {
      this.#warned = true;
      // Never the ID itself: only how it looks.
      const bits = Math.floor(entropyBits(id));
      this.#logger.warn?.(
        { bits },
        `tessera/express: genid gives session IDs of at most ${bits} bits of entropy (under 128): ` +
          'a guessable ID opens someone else\'s session. Return crypto.randomBytes(32).toString("base64url"), or drop genid. (Warned once.)',
      );
    }
    return id;
  }
}
