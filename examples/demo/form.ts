/**
 * Reading the demo's forms: the fields of a URL-encoded POST body, and the sign-in name.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';

/** Largest form body the demo reads, in bytes: its forms hold a name or a handle, and a token. */
const FORM_LIMIT = 16 * 1024;

/** A form's fields: the first value of each. */
export type FormFields = ReadonlyMap<string, string>;

/**
 * The fields of a URL-encoded form POST. tessera's CSRF check has usually read the body already
 * (for its `_csrf` field) and left it parsed on `req.body`; when the token came in the header
 * instead, the body is read here. A body over 16 KB, or of another type, gives no fields.
 *
 * @example
 * ```ts
 * const name = (await readForm(req)).get('name');
 * ```
 */
export async function readForm(req: IncomingMessage): Promise<FormFields> {
  const fields = new Map<string, string>();
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (parsed !== null && typeof parsed === 'object') {
    for (const [key, value] of Object.entries(parsed)) {
      const first: unknown = Array.isArray(value) ? value[0] : value;
      if (typeof first === 'string') fields.set(key, first);
    }
    return fields;
  }
  const type = req.headers['content-type']?.split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded' || req.readableEnded) return fields;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > FORM_LIMIT) return new Map();
    chunks.push(chunk);
  }
  for (const [key, value] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) {
    if (!fields.has(key)) fields.set(key, value);
  }
  return fields;
}

/** Longest name, in characters (code points). */
export const NAME_MAX = 64;

/**
 * Control characters, and the invisible ones that change how the text around them is shown
 * (bidirectional overrides and isolates, line and paragraph separators): a name that holds one
 * could pass for another on the page.
 */
const UNSAFE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/**
 * The sign-in name from the form: trimmed, NFC-normalised, 1 to 64 characters, none of them a
 * control character. `{ error }` says what is wrong otherwise.
 *
 * @example
 * ```ts
 * validName('  Ada ');   // { name: 'Ada' }
 * validName('');         // { error: 'Enter a name.' }
 * ```
 */
export function validName(raw: string | undefined): { name: string; error?: never } | { error: string; name?: never } {
  const name = (raw ?? '').normalize('NFC').trim();
  if (name === '') return { error: 'Enter a name.' };
  if ([...name].length > NAME_MAX) return { error: `A name has at most ${NAME_MAX} characters.` };
  if (UNSAFE.test(name)) return { error: 'A name cannot hold control characters.' };
  return { name };
}
