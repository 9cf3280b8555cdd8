/**
 * What a fuzzed request may get back. The oracle reads the request as sent (its bytes) and the
 * identities of the world, never tessera's own parsers: a session is loaded, or a CSRF check
 * passed, only for a cookie value byte-identical to a valid one (after the cookie syntax's
 * optional quotes and surrounding whitespace, which a parser may strip) under the identity's own
 * tenant, and a token byte-identical to one handed to that identity, or another masking of it
 * (see {@link unmasked}). `GET /me` gives a user only for a request holding a signed-in
 * identity's auth cookie and its session cookie, both byte-identical, under its tenant, and only
 * that identity's user. Where the frameworks read a
 * request differently (undici strips the ends of header values, Node's parser does not), the
 * oracle allows the most lenient reading: it bounds what may be accepted, it does not predict
 * every refusal.
 */
import type { Reply } from '../adapters/suite.js';
import type { FuzzRequest } from './apps.js';
import type { Identity } from './generators.js';
import type { FuzzWorld } from './world.js';

/** How a request ended, for the statistics (that the fuzzer reaches acceptance as well as refusal). */
export type Outcome = 'loaded' | 'fresh' | 'csrf-passed' | 'csrf-refused' | 'tenant-refused' | 'token' | 'signed-in' | 'anonymous';

const MAX_TENANT_LENGTH = 255;

/** The values of cookie `name` in `header`, read leniently (RFC 6265 pairs split on `;`, trimmed, unquoted). */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (header === undefined) return [];
  return header.split(';').flatMap((part) => {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) return [];
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return [value];
  });
}

/** A header value with HTTP whitespace stripped from its ends (as undici's Headers do). */
const stripped = (value: string | undefined): string | undefined => value?.replace(/^[ \t]+|[ \t]+$/g, '');

/** The request's tenant: `null` for none, `undefined` for one the adapter must refuse (400). */
function tenantOf(request: FuzzRequest): string | null | undefined {
  const header = request.headers['x-tenant'];
  if (header === undefined) return null;
  const name = header.trim();
  return name === '' || name.length > MAX_TENANT_LENGTH ? undefined : name;
}

/** Whether the Fetch Metadata check may pass the request (no trusted origins configured). */
function fetchMetadataMayPass(request: FuzzRequest): boolean {
  const site = stripped(request.headers['sec-fetch-site']);
  if (site !== undefined && site !== '') return site === 'same-origin' || site === 'none';
  const origin = stripped(request.headers.origin);
  if (origin === undefined || origin === '') return true;
  const authority = /^[^]+?:\/\/([^/]+)$/.exec(origin.toLowerCase())?.[1];
  return authority !== undefined && authority === stripped(request.headers.host)?.toLowerCase();
}

/**
 * What a CSRF token stands for: a token is a random mask and the session's token XOR that mask
 * (64 bytes, base64url), so every masking of one token is the same token — two bit flips at the
 * same place of both halves give another valid one. `null` for what is not a token's spelling.
 */
export function unmasked(token: string): string | null {
  if (!/^[A-Za-z0-9_-]{86}$/.test(token)) return null;
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.toString('base64url') !== token) return null;
  for (let i = 0; i < 32; i++) bytes[32 + i]! ^= bytes[i]!;
  return bytes.subarray(32).toString('base64url');
}

/** The CSRF tokens the request carries, in the header or the form body, read leniently. */
function tokensOf(request: FuzzRequest): string[] {
  const found: string[] = [];
  const header = stripped(request.headers['x-csrf-token']);
  if (header !== undefined && header !== '') found.push(header);
  if (request.body !== undefined) found.push(...new URLSearchParams(request.body).getAll('_csrf'));
  return found;
}

/**
 * `null` when `reply` is one `request` may get in `world`; otherwise what is wrong. `outcome` is
 * set to how the request ended. `legitimate`: the request is that identity's own, unchanged, so it
 * must be accepted (its session loaded, its write let through).
 */
export function verdict(world: FuzzWorld, request: FuzzRequest, reply: Reply, legitimate?: Identity): { violation: string | null; outcome: Outcome } {
  const tenant = tenantOf(request);
  const route = request.path.slice(1).split('?', 1)[0];
  const fail = (violation: string) => ({ violation, outcome: 'fresh' as Outcome });
  const values = cookieValues(request.headers.cookie, world.cookieNames.session!);
  // The identities this request may legitimately act as: a valid cookie, byte for byte, under its own tenant.
  const holders = world.identities.filter((identity) => identity.tenant === tenant && values.includes(identity.cookies.session!));
  if (world.loggedErrors.length > 0) return fail(`tessera logged an error: ${world.loggedErrors.join(' | ')}`);

  if (tenant === undefined) {
    const allowed = route === 'write' ? [400, 403] : [400];
    return allowed.includes(reply.status) ? { violation: null, outcome: 'tenant-refused' } : fail(`status ${reply.status} for a tenant to refuse (expected ${allowed.join(' or ')}): ${reply.body.slice(0, 200)}`);
  }
  switch (route) {
    case 'read': {
      if (reply.status !== 200) return fail(`GET /read answered ${reply.status}: ${reply.body.slice(0, 200)}`);
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(reply.body) as Record<string, unknown>;
      } catch {
        return fail(`GET /read answered a body that is not JSON: ${reply.body.slice(0, 200)}`);
      }
      if (legitimate?.label && data.owner !== legitimate.label) return fail(`GET /read did not load the session of ${legitimate.label} for its own valid request: ${reply.body.slice(0, 200)}`);
      if (Object.keys(data).length === 0) return { violation: null, outcome: 'fresh' };
      const owner = data.owner ?? null;
      const match = (identity: Identity) => identity.label === owner;
      if (!holders.some(match)) return fail(`GET /read loaded the session of ${String(owner ?? 'a provisional session')} (${JSON.stringify(data)}) for a request holding none of its valid cookies under its tenant`);
      return { violation: null, outcome: 'loaded' };
    }
    case 'write': {
      if (reply.status === 403 && legitimate === undefined) return { violation: null, outcome: 'csrf-refused' };
      if (reply.status !== 200) return fail(`POST /write answered ${reply.status} (expected 200 or 403): ${reply.body.slice(0, 200)}`);
      if (!fetchMetadataMayPass(request)) return fail('POST /write passed the Fetch Metadata check with a cross-site Sec-Fetch-Site or a foreign Origin');
      const tokens = tokensOf(request).map(unmasked);
      if (!holders.some((identity) => tokens.some((token) => token !== null && identity.tokens.map(unmasked).includes(token)))) {
        return fail('POST /write passed the CSRF check without a valid session cookie and a token of that session, byte for byte, under its tenant');
      }
      return { violation: null, outcome: 'csrf-passed' };
    }
    case 'me': {
      if (reply.status !== 200) return fail(`GET /me answered ${reply.status}: ${reply.body.slice(0, 200)}`);
      let user: Record<string, unknown> | null;
      try {
        user = JSON.parse(reply.body) as Record<string, unknown> | null;
      } catch {
        return fail(`GET /me answered a body that is not JSON: ${reply.body.slice(0, 200)}`);
      }
      if (legitimate?.user && user?.sub !== legitimate.user) return fail(`GET /me did not give the user ${legitimate.user} for its own valid request: ${reply.body.slice(0, 200)}`);
      if (user === null) return { violation: null, outcome: 'anonymous' };
      // A user only with both cookies of one signed-in identity, byte for byte, under its tenant.
      const tokens = cookieValues(request.headers.cookie, world.cookieNames.auth!);
      const signedIn = holders.filter((identity) => identity.user !== null && tokens.includes(identity.cookies.auth!));
      if (!signedIn.some((identity) => identity.user === user.sub)) {
        return fail(`GET /me gave the user ${JSON.stringify(user)} to a request holding no signed-in identity's session and auth cookies, byte for byte, under its tenant, for that user`);
      }
      return { violation: null, outcome: 'signed-in' };
    }
    default:
      if (reply.status !== 200) return fail(`GET /${route} answered ${reply.status}: ${reply.body.slice(0, 200)}`);
      return { violation: null, outcome: 'token' };
  }
}
