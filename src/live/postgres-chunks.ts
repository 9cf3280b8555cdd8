/**
 * How {@link PostgresBus} fits messages into NOTIFY payloads, which PostgreSQL limits to under 8000
 * bytes and to text without NUL: each message becomes one or more payloads of at most
 * {@link PAYLOAD_BYTES}, and a {@link Reassembler} on the other side puts them back together.
 *
 * A payload is `<publisher>:<seq>:<index>:<count>:<encoding><part>`: the publishing bus's random
 * ID, the message's sequence number at that bus, the part's index and the number of parts, `t`
 * (UTF-8 text, split between characters) or `b` (base64 of the UTF-8 bytes, for a message holding
 * NUL), then the part. The sequence number also keeps two equal messages in one transaction
 * distinct: PostgreSQL delivers only one of identical notifications sent in the same transaction.
 *
 * @module
 * @internal
 */

/** The most bytes of one NOTIFY payload this codec makes (PostgreSQL's limit is 7999). */
export const PAYLOAD_BYTES = 7_900;
/** Room left for the header (ID of 11 characters, three numbers, separators, encoding). */
const PART_BYTES = PAYLOAD_BYTES - 64;

/**
 * The NOTIFY payloads that carry `message`, the `seq`th message of the bus `publisher`.
 *
 * @example
 * ```ts
 * const payloads = splitMessage('a'.repeat(20_000), 'AbCdEfGhIjK', 7); // three payloads
 * ```
 */
export function splitMessage(message: string, publisher: string, seq: number): string[] {
  const text = !message.includes('\0');
  const bytes = Buffer.from(message, 'utf8');
  const head = (index: number, count: number): string => `${publisher}:${seq}:${index}:${count}:${text ? 't' : 'b'}`;
  if (text && bytes.length <= PART_BYTES) return [head(0, 1) + message];
  const parts: string[] = [];
  if (text) {
    for (let start = 0; start < bytes.length; ) {
      let end = Math.min(start + PART_BYTES, bytes.length);
      // Never end a part inside a character: back up over UTF-8 continuation bytes (10xxxxxx).
      while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--;
      parts.push(bytes.toString('utf8', start, end));
      start = end;
    }
  } else {
    const base64 = bytes.toString('base64');
    for (let start = 0; start < base64.length; start += PART_BYTES) parts.push(base64.slice(start, start + PART_BYTES));
  }
  return parts.map((part, index) => head(index, parts.length) + part);
}

/** A message being put together from its parts. */
interface Partial {
  seq: string;
  next: number;
  count: number;
  parts: string[];
}

const HEADER = /^([A-Za-z0-9_-]+):(\d+):(\d+):(\d+):([tb])/;

/**
 * Puts messages back together from the payloads of {@link splitMessage}, per publisher. A part
 * that does not follow the one before (one was lost: the listening connection dropped between
 * them) drops the message it belonged to; a payload not in the format is ignored.
 *
 * @example
 * ```ts
 * const reassembler = new Reassembler();
 * for (const payload of splitMessage(big, 'AbCdEfGhIjK', 1)) {
 *   const message = reassembler.add(payload); // the whole message with the last part, else null
 * }
 * ```
 */
export class Reassembler {
  readonly #partial = new Map<string, Partial>();

  /** Take one payload; the message it completes, or `null`. */
  add(payload: string): string | null {
    const match = HEADER.exec(payload);
    if (!match) return null;
    const [head, publisher, seq, indexText, countText, encoding] = match as unknown as [string, string, string, string, string, string];
    const index = Number(indexText);
    const count = Number(countText);
    const part = payload.slice(head.length);
    if (count === 1 && index === 0) return encoding === 't' ? part : decode(part);
    let partial = this.#partial.get(publisher);
    if (index === 0) {
      partial = { seq, next: 0, count, parts: [] };
      this.#partial.set(publisher, partial);
    } else if (!partial || partial.seq !== seq || partial.next !== index || partial.count !== count) {
      this.#partial.delete(publisher);
      return null;
    }
    partial.parts.push(part);
    partial.next++;
    if (partial.next < partial.count) return null;
    this.#partial.delete(publisher);
    const whole = partial.parts.join('');
    return encoding === 't' ? whole : decode(whole);
  }

  /** Forget every message in progress (their remaining parts were lost with the connection). */
  clear(): void {
    this.#partial.clear();
  }
}

function decode(base64: string): string {
  return Buffer.from(base64, 'base64').toString('utf8');
}
