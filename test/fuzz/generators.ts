/**
 * The fuzzer's generators (fast-check arbitraries): values of each kind of client credential —
 * valid ones taken from the app, mutations of them, well-shaped forgeries, junk — and whole
 * requests made of them (Cookie headers of many pairs with odd separators, quotes, unicode and
 * length; tokens in the header or a form body; tenant, Host, Origin and Sec-Fetch-Site headers).
 *
 * Credential kinds are listed once, in {@link CREDENTIAL_KINDS}: a new kind of cookie (the JWT
 * auth cookie) is one more entry there, with its cookie name and its valid values per identity.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import type { FuzzRequest } from './apps.js';

/** A session the app knows, made by the fuzzer before fuzzing: what a legitimate browser holds. */
export interface Identity {
  /** The `owner` value its session data holds; `null` for a provisional session (nothing stored). */
  readonly label: string | null;
  readonly tenant: string | null;
  /** The valid cookie values of this identity, by credential kind name (see {@link CREDENTIAL_KINDS}). */
  readonly cookies: Readonly<Record<string, string>>;
  /** CSRF tokens handed to this identity (the page's token and the readable cookie's). */
  readonly tokens: readonly string[];
  /** The user signed in on this session (the `sub` of its auth cookie), or `null`. */
  readonly user: string | null;
  /**
   * Values signed with the app's own key that must still be refused, by credential kind name: auth
   * tokens of this session expired, not yet valid, for another user or tenant, or bound to another session.
   */
  readonly signed?: Readonly<Record<string, readonly string[]>>;
}

/** What the fuzzer knows of an app: its cookie names and the identities made on it. */
export interface World {
  /** Cookie names by credential kind name. */
  readonly cookieNames: Readonly<Record<string, string>>;
  readonly csrfCookieName: string;
  readonly identities: readonly Identity[];
}

/**
 * A kind of client credential carried in a cookie. `session` is the session cookie (a signed ID,
 * `id.sig` or provisional `id~sig`, on a server-side store; the sealed session on the cookie
 * store). To fuzz another cookie (a JWT auth cookie): add its kind here (with JWT-shaped
 * forgeries: `alg: none`, a swapped header, an expired or foreign-issuer token), record its cookie
 * name in `World.cookieNames` and each identity's valid value in `Identity.cookies` (made in
 * test/fuzz/world.ts), and say in the oracle (test/fuzz/oracle.ts) what it grants and when. Both
 * request shapes (mutated legitimate requests, random Cookie headers) then send and mutate it.
 */
export interface CredentialKind {
  readonly name: string;
  /** Well-shaped forgeries: values a parser of this kind gets far with. */
  readonly forged: fc.Arbitrary<string>;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const b64char = fc.constantFrom(...B64URL);
const b64 = (min: number, max: number) => fc.string({ unit: b64char, minLength: min, maxLength: max });

/** A JWT segment: JSON as base64url. */
const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A key the app does not have: a token signed with it is well-formed and verifies nowhere. */
const FOREIGN_KEY = 'fuzz-foreign-jwt-key-0123456789abcdefghij';

/** JOSE headers a verifier must refuse or look further into: `none` in its spellings, other algorithms, odd `kid`s, no `kid`. */
const jwtHeaderArb = fc.record(
  {
    alg: fc.constantFrom('none', 'None', 'NONE', 'HS256', 'HS512', 'RS256', 'ES256', 'EdDSA', '', 'nOnE'),
    kid: fc.oneof(b64(0, 43), fc.constantFrom('', '0', '../../dev/null', '__proto__', 'constructor')),
    typ: fc.constantFrom('JWT', 'jwt', 'at+jwt'),
    crit: fc.constant(['exp']),
    b64: fc.constant(false),
  },
  { requiredKeys: ['alg'] },
);

/** Claims: expired, not yet valid, a foreign issuer or audience, a `sub` of a seeded user, odd types. */
const jwtClaimsArb = fc.record(
  {
    sub: fc.oneof(fc.constantFrom('user-none', 'user-acme', 'user-globex', '', 'admin'), fc.constant(42 as unknown as string)),
    sid: b64(0, 43),
    tid: fc.constantFrom('acme', 'globex', ''),
    iat: fc.integer({ min: 0, max: 4_000_000_000 }),
    nbf: fc.oneof(fc.integer({ min: 0, max: 4_000_000_000 }), fc.constant('0' as unknown as number)),
    exp: fc.oneof(fc.integer({ min: 0, max: 1_700_000_000 }), fc.integer({ min: 1_700_000_000, max: 4_000_000_000 }), fc.constant(null as unknown as number)),
    iss: fc.constantFrom('https://evil.example', '', 'tessera'),
    aud: fc.constantFrom('evil', ['app', 'evil']),
  },
  { requiredKeys: [] },
);

/** Every credential kind fuzzed. */
export const CREDENTIAL_KINDS: readonly CredentialKind[] = [
  {
    name: 'session',
    forged: fc.oneof(
      // id.sig and id~sig with the right lengths: the signature check is reached.
      fc.tuple(b64(43, 43), fc.constantFrom('.', '~'), b64(43, 43)).map(([id, sep, sig]) => id + sep + sig),
      // A sealed box: format byte 2 or 1, a random rest.
      fc.tuple(fc.constantFrom(1, 2), fc.uint8Array({ minLength: 20, maxLength: 200 })).map(([format, rest]) => Buffer.concat([Buffer.of(format), rest]).toString('base64url')),
    ),
  },
  {
    // The JWT auth cookie (src/auth/): `header.payload.signature`, HS256 under a keyring subkey.
    name: 'auth',
    forged: fc.oneof(
      // A whole JWT of chosen header and claims, signed with nothing, junk or a key of our own.
      fc.tuple(jwtHeaderArb, jwtClaimsArb, fc.oneof(fc.constant(''), b64(0, 86), fc.constant('SIGN'))).map(([header, claims, signature]) => {
        const head = `${segment(header)}.${segment(claims)}`;
        return `${head}.${signature === 'SIGN' ? createHmac('sha256', FOREIGN_KEY).update(head).digest('base64url') : signature}`;
      }),
      // Header and payload swapped.
      fc.tuple(jwtHeaderArb, jwtClaimsArb, b64(43, 43)).map(([header, claims, signature]) => `${segment(claims)}.${segment(header)}.${signature}`),
      // Random base64url segments, three or not.
      fc.array(b64(0, 60), { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.')),
    ),
  },
];

/**
 * A mutation of a valid value, described as data so a counterexample reads plainly.
 * Applied by {@link mutate}.
 */
export type Mutation =
  | { op: 'flip'; at: number; char: string }
  | { op: 'truncate'; at: number }
  | { op: 'extend'; tail: string }
  | { op: 'insert'; at: number; text: string }
  | { op: 'delete'; at: number; count: number }
  | { op: 'separator'; to: string }
  | { op: 'bitflip'; part: number; bit: number }
  | { op: 'noncanonical'; bits: number }
  | { op: 'base64'; padding: boolean }
  | { op: 'percent'; at: number }
  | { op: 'case'; at: number }
  | { op: 'double' }
  | { op: 'splice'; at: number; other: number };

/** Any character a header can carry besides base64url ones: separators, quotes, latin1, unicode (as UTF-8 bytes). */
const oddChar = fc.constantFrom('.', '~', ';', ',', '=', '"', ' ', '\t', '%', '+', '/', '\\', '\u00e9', '\u00ff', '\u2603', '\u{1f600}', '\u0000');

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), char: fc.oneof({ arbitrary: b64char, weight: 4 }, oddChar) }), weight: 4 },
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('extend' as const), tail: fc.oneof(b64(1, 8), fc.string({ unit: oddChar, minLength: 1, maxLength: 3 })) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(b64(1, 3), fc.string({ unit: oddChar, minLength: 1, maxLength: 2 })) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant('separator' as const), to: fc.constantFrom('.', '~', '', '..', '-', '_', ':', '|', '=') }),
  { arbitrary: fc.record({ op: fc.constant('bitflip' as const), part: fc.nat(3), bit: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('noncanonical' as const), bits: fc.integer({ min: 1, max: 15 }) }), weight: 2 },
  fc.record({ op: fc.constant('base64' as const), padding: fc.boolean() }),
  fc.record({ op: fc.constant('percent' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('case' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('double' as const) }),
  fc.record({ op: fc.constant('splice' as const), at: fc.nat(), other: fc.nat() }),
);

/**
 * `value` mutated; `others` are valid values of other identities (for `splice`, which joins the
 * head of one to the tail of another: one session's ID with another's signature).
 */
export function mutate(value: string, m: Mutation, others: readonly string[]): string {
  const len = value.length;
  const at = (n: number) => (len === 0 ? 0 : n % len);
  switch (m.op) {
    case 'flip':
      return value.slice(0, at(m.at)) + m.char + value.slice(at(m.at) + 1);
    case 'truncate':
      return value.slice(0, at(m.at));
    case 'extend':
      return value + m.tail;
    case 'insert':
      return value.slice(0, at(m.at)) + m.text + value.slice(at(m.at));
    case 'delete':
      return value.slice(0, at(m.at)) + value.slice(at(m.at) + m.count);
    case 'separator':
      return value.replace(/[.~]/, m.to);
    case 'bitflip': {
      // Decode one base64url part, flip a bit, encode again: well-formed, so the MAC or tag is what refuses it.
      const parts = value.split(/([.~])/);
      const index = (m.part % Math.ceil(parts.length / 2)) * 2;
      const bytes = Buffer.from(parts[index]!, 'base64url');
      if (bytes.length === 0) return value + 'A';
      const bit = m.bit % (bytes.length * 8);
      bytes[bit >> 3]! ^= 1 << (bit & 7);
      parts[index] = bytes.toString('base64url');
      return parts.join('');
    }
    case 'noncanonical': {
      // The same bytes spelled otherwise: the unused low bits of the last character set.
      const part = value.split(/[.~]/).at(-1)!;
      const unused = part.length % 4 === 2 ? 4 : part.length % 4 === 3 ? 2 : 0;
      if (unused === 0) return value + '=';
      const index = B64URL.indexOf(value.at(-1)!);
      const changed = index ^ (m.bits & ((1 << unused) - 1) || 1);
      return value.slice(0, -1) + B64URL[changed];
    }
    case 'base64': {
      const standard = value.replace(/-/g, '+').replace(/_/g, '/');
      const padded = m.padding ? standard + '='.repeat((4 - (standard.length % 4)) % 4 || 1) : standard;
      return padded === value ? value + '=' : padded;
    }
    case 'percent': {
      const i = at(m.at);
      return value.slice(0, i) + '%' + value.charCodeAt(i).toString(16).toUpperCase().padStart(2, '0') + value.slice(i + 1);
    }
    case 'case': {
      const i = at(m.at);
      const c = value[i] ?? '';
      const swapped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      return value.slice(0, i) + (swapped === c ? 'x' : swapped) + value.slice(i + 1);
    }
    case 'double':
      return value + value;
    case 'splice': {
      const other = others.length === 0 ? value : others[m.other % others.length]!;
      const i = at(m.at);
      return value.slice(0, i) + other.slice(i);
    }
  }
}

/** A value standing where a credential goes: valid, mutated, forged, or junk. */
export type ValueChoice =
  | { from: 'valid'; identity: number; pick: number }
  | { from: 'mutated'; identity: number; pick: number; mutations: Mutation[] }
  | { from: 'forged'; value: string }
  | { from: 'signed'; identity: number; pick: number }
  | { from: 'junk'; value: string };

const junk = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '""', '"', '=', 'null', 'undefined', '[object Object]', '..', '~', '.'.repeat(44), 'a'.repeat(87)),
  fc.integer({ min: 100, max: 6000 }).map((n) => 'A'.repeat(n)),
);

/** Which identity a valid or mutated value is taken from, counted from the one the request acts as: mostly itself. */
const identityOffset = fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.nat(), weight: 1 });

function valueChoice(forged: fc.Arbitrary<string>, signed = false): fc.Arbitrary<ValueChoice> {
  const signedChoice = fc.record({ from: fc.constant('signed' as const), identity: identityOffset, pick: fc.nat() });
  return fc.oneof(
    ...(signed ? [{ arbitrary: signedChoice as fc.Arbitrary<ValueChoice>, weight: 1 }] : []),
    { arbitrary: fc.record({ from: fc.constant('valid' as const), identity: identityOffset, pick: fc.nat() }), weight: 3 },
    { arbitrary: fc.record({ from: fc.constant('mutated' as const), identity: identityOffset, pick: fc.nat(), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) }), weight: 6 },
    { arbitrary: fc.record({ from: fc.constant('forged' as const), value: forged }), weight: 1 },
    { arbitrary: fc.record({ from: fc.constant('junk' as const), value: junk }), weight: 1 },
  );
}

/**
 * The value a choice stands for: `pools` holds each identity's valid values of the kind, `self`
 * is the identity the request acts as.
 */
export function resolveValue(choice: ValueChoice, pools: readonly (readonly string[])[], self: number, signedPools: readonly (readonly string[])[] = []): string {
  switch (choice.from) {
    case 'signed': {
      const pool = signedPools.length === 0 ? [] : signedPools[(self + choice.identity) % signedPools.length]!;
      return pool.length === 0 ? '' : pool[choice.pick % pool.length]!;
    }
    case 'valid':
    case 'mutated': {
      const pool = pools[(self + choice.identity) % pools.length]!;
      const original = pool.length === 0 ? '' : pool[choice.pick % pool.length]!;
      return choice.from === 'valid' ? original : choice.mutations.reduce((value, m) => mutate(value, m, pools.flat()), original);
    }
    case 'forged':
    case 'junk':
      return choice.value;
  }
}

/** One pair of a Cookie header. */
export type CookiePart =
  | { kind: 'credential'; credential: string; name: 'exact' | 'case' | 'spaced' | 'prefixed'; value: ValueChoice; quoted: boolean }
  | { kind: 'csrf'; value: ValueChoice }
  | { kind: 'other'; name: string; value: string }
  | { kind: 'raw'; text: string };

const separator = fc.constantFrom('; ', ';', ' ; ', ';;', '; ;', ', ', ',', '\t;\t', ' ', '', ';\u00a0');

function cookiePart(): fc.Arbitrary<CookiePart> {
  const credentials = CREDENTIAL_KINDS.map((kind) =>
    fc.record({
      kind: fc.constant('credential' as const),
      credential: fc.constant(kind.name),
      name: fc.constantFrom('exact', 'exact', 'exact', 'exact', 'case', 'spaced', 'prefixed'),
      value: valueChoice(kind.forged, kind.name === 'auth'),
      quoted: fc.boolean(),
    }),
  );
  return fc.oneof(
    { arbitrary: fc.oneof(...credentials), weight: 6 },
    { arbitrary: fc.record({ kind: fc.constant('csrf' as const), value: valueChoice(b64(86, 86)) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('other' as const), name: fc.oneof(b64(1, 12), fc.constantFrom('tessera', 'connect.sid', '__Host-', 'a')), value: fc.string({ maxLength: 30 }) }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('raw' as const), text: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('=', '==', ';', '"', 'x', '=x', 'x=')) }), weight: 1 },
  );
}

/** A whole Cookie header, before its values are resolved against a world. */
export interface CookieHeaderSpec {
  parts: CookiePart[];
  separators: string[];
  /** Junk pairs before the first part, to make the header huge. */
  padding: number;
}

export const cookieHeaderArb: fc.Arbitrary<CookieHeaderSpec | null> = fc.option(
  fc.record({
    parts: fc.array(cookiePart(), { minLength: 1, maxLength: 6 }),
    separators: fc.array(separator, { minLength: 6, maxLength: 6 }),
    padding: fc.oneof({ arbitrary: fc.constant(0), weight: 9 }, { arbitrary: fc.integer({ min: 1, max: 400 }), weight: 1 }),
  }),
  { freq: 10 },
);

/** A CSRF token and where it goes. */
export interface TokenSpec {
  value: ValueChoice;
  inHeader: boolean;
  inForm: boolean;
}

export const tokenArb: fc.Arbitrary<TokenSpec | null> = fc.option(
  fc.record({ value: valueChoice(b64(86, 86)), inHeader: fc.boolean(), inForm: fc.boolean() }),
  { freq: 6 },
);

/** The tenant header: absent, one the identities use, or an odd one (empty, blank, padded, cased, long, unicode). */
export const tenantArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 4 },
  { arbitrary: fc.constantFrom('acme', 'globex'), weight: 4 },
  { arbitrary: fc.constantFrom('', ' ', '\t', ' acme ', 'ACME', 'acme\u00a0', 'acme,globex', '\u00e9', '\u2603', 'a'.repeat(255), 'a'.repeat(256)), weight: 2 },
  { arbitrary: fc.string({ maxLength: 12 }), weight: 1 },
);

/** Host, Origin, Sec-Fetch-Site: what the Fetch Metadata check reads. */
export interface FetchMetadata {
  host: string;
  origin: string | undefined;
  secFetchSite: string | undefined;
}

export const fetchMetadataArb: fc.Arbitrary<FetchMetadata> = fc.record({
  host: fc.constantFrom('app.example', 'APP.example', 'app.example:8443', 'evil.example', ''),
  origin: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 4 },
    { arbitrary: fc.constantFrom('https://app.example', 'http://app.example', 'https://APP.EXAMPLE', 'https://evil.example', 'null', '', 'https://app.example/', 'app.example', 'https://app.example:8443', 'x://app.example'), weight: 3 },
    { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
  ),
  secFetchSite: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 3 },
    { arbitrary: fc.constantFrom('same-origin', 'none', 'cross-site', 'same-site', 'SAME-ORIGIN', '', ' same-origin', 'same-origin, cross-site'), weight: 3 },
    { arbitrary: fc.string({ maxLength: 12 }), weight: 1 },
  ),
});

/**
 * A legitimate request of one identity (its cookies, its token, its tenant, same-origin) with one
 * thing changed — or none (`none`: then it must be accepted).
 */
export type Change =
  | { what: 'none' }
  | { what: 'cookie'; kind: number; mutations: Mutation[] }
  | { what: 'token'; mutations: Mutation[] }
  | { what: 'signed'; kind: number; pick: number }
  | { what: 'cookie-of'; other: number }
  | { what: 'token-of'; other: number }
  | { what: 'tenant'; tenant: string | undefined }
  | { what: 'fetch'; fetch: FetchMetadata };

export interface MutatedSpec {
  shape: 'mutated';
  as: number;
  route: 'read' | 'write' | 'me';
  tokenInForm: boolean;
  change: Change;
}

const mutations = fc.array(mutationArb, { minLength: 1, maxLength: 2 });

export const mutatedRequestArb: fc.Arbitrary<MutatedSpec> = fc.record({
  shape: fc.constant('mutated' as const),
  as: fc.nat(),
  route: fc.constantFrom('read', 'write', 'me'),
  tokenInForm: fc.boolean(),
  change: fc.oneof(
    { arbitrary: fc.constant({ what: 'none' as const }), weight: 1 },
    { arbitrary: fc.record({ what: fc.constant('cookie' as const), kind: fc.nat(CREDENTIAL_KINDS.length - 1), mutations }), weight: 6 },
    { arbitrary: fc.record({ what: fc.constant('token' as const), mutations }), weight: 4 },
    { arbitrary: fc.record({ what: fc.constant('signed' as const), kind: fc.nat(CREDENTIAL_KINDS.length - 1), pick: fc.nat() }), weight: 2 },
    { arbitrary: fc.record({ what: fc.constant('cookie-of' as const), other: fc.integer({ min: 1, max: 1000 }) }), weight: 1 },
    { arbitrary: fc.record({ what: fc.constant('token-of' as const), other: fc.integer({ min: 1, max: 1000 }) }), weight: 1 },
    { arbitrary: fc.record({ what: fc.constant('tenant' as const), tenant: tenantArb }), weight: 1 },
    { arbitrary: fc.record({ what: fc.constant('fetch' as const), fetch: fetchMetadataArb }), weight: 1 },
  ),
});

/** A request of random parts, before it is resolved against a world. */
export interface RequestSpec {
  shape: 'random';
  /** The identity the request acts as (its tenant, its values), mostly; see {@link identityOffset}. */
  as: number;
  /** Send the identity's own tenant, or {@link RequestSpec.tenant}. */
  ownTenant: boolean;
  route: 'read' | 'write' | 'token' | 'me';
  cookie: CookieHeaderSpec | null;
  token: TokenSpec | null;
  tenant: string | undefined;
  fetch: FetchMetadata;
  proto: 'https' | 'http';
}

export const randomRequestArb: fc.Arbitrary<RequestSpec> = fc.record({
  shape: fc.constant('random' as const),
  as: fc.nat(),
  ownTenant: fc.boolean(),
  route: fc.constantFrom('read', 'read', 'write', 'write', 'token', 'me', 'me'),
  cookie: cookieHeaderArb,
  token: tokenArb,
  tenant: tenantArb,
  fetch: fetchMetadataArb,
  proto: fc.constantFrom('https', 'https', 'https', 'http'),
});

/** What the fuzzer sends: half legitimate requests with one thing changed, half random assemblies. */
export const requestArb: fc.Arbitrary<RequestSpec | MutatedSpec> = fc.oneof(mutatedRequestArb, randomRequestArb);

/**
 * A string as a server reads it from the wire: characters beyond latin1 as their UTF-8 bytes, each
 * byte one character; control characters a header cannot carry (NUL, CR, LF and the like) dropped.
 */
export function wire(text: string): string {
  const bytes = Buffer.from(text, 'utf8').toString('latin1');
  return bytes.replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, '');
}

/** The request `spec` stands for in `world`. */
export function resolveRequest(spec: RequestSpec | MutatedSpec, world: World): FuzzRequest {
  return spec.shape === 'mutated' ? resolveMutated(spec, world) : resolveRandom(spec, world);
}

function resolveMutated(spec: MutatedSpec, world: World): FuzzRequest {
  const n = world.identities.length;
  const self = spec.as % n;
  const change = spec.change;
  const identity = world.identities[change.what === 'cookie-of' ? (self + change.other) % n : self]!;
  const tokenOwner = world.identities[change.what === 'token-of' ? (self + change.other) % n : self]!;
  // Every credential cookie of the identity, one of them mutated.
  const cookies = CREDENTIAL_KINDS.flatMap((kind, index) => {
    let value = identity.cookies[kind.name];
    if (value === undefined) return [];
    if (change.what === 'cookie' && change.kind === index) value = change.mutations.reduce((v, m) => mutate(v, m, credentialPools(world, kind.name).flat()), value);
    const signed = identity.signed?.[kind.name] ?? [];
    if (change.what === 'signed' && change.kind === index && signed.length > 0) value = signed[change.pick % signed.length]!;
    return [`${world.cookieNames[kind.name]}=${value}`];
  });
  let token = tokenOwner.tokens[0]!;
  if (change.what === 'token') token = change.mutations.reduce((v, m) => mutate(v, m, tokenPools(world).flat()), token);
  const fetch = change.what === 'fetch' ? change.fetch : { host: 'app.example', origin: 'https://app.example', secFetchSite: 'same-origin' };
  const tenant = change.what === 'tenant' ? change.tenant : (world.identities[self]!.tenant ?? undefined);
  const headers: Record<string, string> = {
    'x-forwarded-proto': 'https',
    host: wire(fetch.host),
    cookie: wire(cookies.join('; ')),
  };
  if (fetch.origin !== undefined) headers.origin = wire(fetch.origin);
  if (fetch.secFetchSite !== undefined) headers['sec-fetch-site'] = wire(fetch.secFetchSite);
  if (tenant !== undefined) headers['x-tenant'] = wire(tenant);
  if (spec.route !== 'write') return { method: 'GET', path: `/${spec.route}`, headers };
  if (!spec.tokenInForm) return { method: 'POST', path: '/write?key=k&value=fuzz', headers: { ...headers, 'x-csrf-token': wire(token) } };
  return {
    method: 'POST',
    path: '/write?key=k&value=fuzz',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    body: `note=hi&_csrf=${encodeURIComponent(wire(token))}`,
  };
}

function resolveRandom(spec: RequestSpec, world: World): FuzzRequest {
  const headers: Record<string, string> = { 'x-forwarded-proto': spec.proto, host: wire(spec.fetch.host) };
  if (spec.fetch.origin !== undefined) headers.origin = wire(spec.fetch.origin);
  if (spec.fetch.secFetchSite !== undefined) headers['sec-fetch-site'] = wire(spec.fetch.secFetchSite);
  const self = spec.as % world.identities.length;
  const tenant = spec.ownTenant ? (world.identities[self]!.tenant ?? undefined) : spec.tenant;
  if (tenant !== undefined) headers['x-tenant'] = wire(tenant);
  if (spec.cookie !== null) headers.cookie = wire(cookieHeader(spec.cookie, world, self));
  let body: string | undefined;
  if (spec.token !== null) {
    const token = wire(resolveValue(spec.token.value, tokenPools(world), self));
    if (spec.token.inHeader || !spec.token.inForm) headers['x-csrf-token'] = token;
    if (spec.token.inForm && spec.route === 'write') {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = `note=hi&_csrf=${encodeURIComponent(token)}`;
    }
  }
  const method = spec.route === 'write' ? 'POST' : 'GET';
  const path = spec.route === 'write' ? '/write?key=k&value=fuzz' : `/${spec.route}`;
  return { method, path, headers, ...(body === undefined ? {} : { body }) };
}

/** The valid values of one credential kind, by identity. */
function credentialPools(world: World, kind: string): string[][] {
  return world.identities.map((identity) => (identity.cookies[kind] === undefined ? [] : [identity.cookies[kind]]));
}

/** The values of one credential kind signed with the app's key that must be refused, by identity. */
function signedPools(world: World, kind: string): string[][] {
  return world.identities.map((identity) => [...(identity.signed?.[kind] ?? [])]);
}

function tokenPools(world: World): string[][] {
  return world.identities.map((identity) => [...identity.tokens]);
}

function cookieHeader(spec: CookieHeaderSpec, world: World, self: number): string {
  const pairs = spec.parts.map((part) => {
    switch (part.kind) {
      case 'credential': {
        const name = world.cookieNames[part.credential]!;
        const value = resolveValue(part.value, credentialPools(world, part.credential), self, signedPools(world, part.credential));
        const shown = part.name === 'exact' ? name : part.name === 'case' ? name.toUpperCase() : part.name === 'spaced' ? `${name} ` : `x${name}`;
        return `${shown}=${part.quoted ? `"${value}"` : value}`;
      }
      case 'csrf':
        return `${world.csrfCookieName}=${resolveValue(part.value, tokenPools(world), self)}`;
      case 'other':
        return `${part.name}=${part.value}`;
      case 'raw':
        return part.text;
    }
  });
  const padding = Array.from({ length: spec.padding }, (_, i) => `pad${i}=${'p'.repeat(20)}`).join('; ');
  const joined = pairs.reduce((header, pair, i) => (i === 0 ? pair : header + spec.separators[(i - 1) % spec.separators.length] + pair), '');
  return padding === '' ? joined : `${padding}; ${joined}`;
}
