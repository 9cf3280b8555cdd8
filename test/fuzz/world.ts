/**
 * A world to fuzz: one adapter's app on one kind of store (server-side memory store: signed ID
 * cookies; or the cookie store: sealed sessions), and the sessions legitimate browsers hold on it,
 * made through the app itself before fuzzing starts.
 */
import assert from 'node:assert/strict';
import { Tessera } from '../../src/manager.js';
import { CookieStore } from '../../src/stores/cookie.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { FuzzApp, FuzzRequest, FuzzTarget } from './apps.js';
import type { Identity, World } from './generators.js';

export const SECRET = 'fuzz-secret-0123456789abcdefghijklmnopqrst';
const OLD_SECRET = 'fuzz-old-secret-0123456789abcdefghijklmnop';
const HOUR = 3_600_000;

/** Where sessions live: a server-side store (signed session-ID cookies) or the cookie itself (sealed). */
export type StoreMode = 'server' | 'sealed';

/** An app ready to fuzz, with what the oracle needs to know. */
export interface FuzzWorld extends World {
  readonly app: FuzzApp;
  readonly tessera: Tessera;
  readonly mode: StoreMode;
  /** Errors tessera logged (`logger.error`): each is a failure. */
  readonly loggedErrors: string[];
}

const pair = (line: string): [string, string] => {
  const first = line.split(';', 1)[0]!;
  const eq = first.indexOf('=');
  return [first.slice(0, eq), first.slice(eq + 1)];
};

/**
 * Start `target` on a store of `mode`, and make its identities: for no tenant, `acme` and
 * `globex`, a stored session (data `{ owner }`) signed in as `user-<tenant>` (its rotated session
 * cookie and its auth cookie), and a provisional one (a page visited, its token handed out,
 * nothing stored, nobody signed in).
 */
export async function makeWorld(target: FuzzTarget, mode: StoreMode): Promise<FuzzWorld> {
  const loggedErrors: string[] = [];
  const store = mode === 'server' ? new MemoryStore() : new CookieStore({ revocation: new MemoryStore() });
  const tessera = new Tessera({
    // Two secrets: the old one verifies too, so a value under either is a known identity.
    secrets: [SECRET, OLD_SECRET],
    store,
    cleanupInterval: 0,
    logger: { error: (_fields, message: string) => loggedErrors.push(message) },
    cookie: { secure: true },
  });
  const app = await target.start(tessera);
  const name = tessera.cookieName;
  const authName = tessera.auth!.cookie.name;
  const csrfCookieName = tessera.csrf.cookie!.name;
  const identities: Identity[] = [];
  const base = (tenant: string | null): Record<string, string> => ({
    'x-forwarded-proto': 'https',
    host: 'app.example',
    ...(tenant === null ? {} : { 'x-tenant': tenant }),
  });
  const send = async (request: FuzzRequest) => {
    const reply = await app.send(request);
    assert.equal(reply.status, 200, `seeding ${request.method} ${request.path} on ${target.name}: ${reply.status} ${reply.body.slice(0, 200)}`);
    return reply;
  };
  const cookiesOf = (lines: string[], into: Map<string, string>) => {
    for (const line of lines) {
      const [n, v] = pair(line);
      if (v === '') into.delete(n);
      else into.set(n, v);
    }
    return into;
  };
  const header = (jar: Map<string, string>) => [...jar].map(([n, v]) => `${n}=${v}`).join('; ');

  // Tokens signed with the app's own key, each wrong in one claim: the checks past the signature.
  const refused = async (token: string, user: string, tenant: string | null): Promise<string[]> => {
    const { sid } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string };
    const now = Date.now();
    const sign = (sub: string, at: { binding?: string; tenant?: string | null; now: number; exp: number }) =>
      tessera.auth!.sign({ sub }, { binding: at.binding ?? sid, tenant: at.tenant === undefined ? tenant : at.tenant, now: at.now, exp: at.exp });
    return Promise.all([
      sign(user, { now: now - 2 * HOUR, exp: now - HOUR }), // expired
      sign(user, { now: now + HOUR, exp: now + 2 * HOUR }), // not yet valid
      sign('admin', { now, exp: now + HOUR }), // another user on this session
      sign(user, { tenant: tenant === 'acme' ? 'globex' : 'acme', now, exp: now + HOUR }), // another tenant
      ...(tenant === null ? [] : [sign(user, { tenant: null, now, exp: now + HOUR })]), // no tenant
      sign(user, { binding: 'A'.repeat(43), now, exp: now + HOUR }), // another session
    ]);
  };

  for (const tenant of [null, 'acme', 'globex']) {
    const label = `owner-${tenant ?? 'none'}`;
    // A visit, a write with its token: a stored session.
    const page = await send({ method: 'GET', path: '/token', headers: base(tenant) });
    const jar = cookiesOf(page.setCookies, new Map());
    const write = await send({
      method: 'POST',
      path: `/write?key=owner&value=${label}`,
      headers: { ...base(tenant), cookie: header(jar), 'x-csrf-token': page.body, 'sec-fetch-site': 'same-origin' },
    });
    cookiesOf(write.setCookies, jar);
    const again = await send({ method: 'GET', path: '/token', headers: { ...base(tenant), cookie: header(jar) } });
    cookiesOf(again.setCookies, jar);
    // Signed in: the auth cookie set, the session ID rotated (its data kept), its token asked again.
    const user = `user-${tenant ?? 'none'}`;
    const signIn = await send({
      method: 'POST',
      path: `/sign-in?user=${user}`,
      headers: { ...base(tenant), cookie: header(jar), 'x-csrf-token': again.body, 'sec-fetch-site': 'same-origin' },
    });
    cookiesOf(signIn.setCookies, jar);
    const after = await send({ method: 'GET', path: '/token', headers: { ...base(tenant), cookie: header(jar) } });
    cookiesOf(after.setCookies, jar);
    const stored = jar.get(name);
    const auth = jar.get(authName);
    assert.ok(stored !== undefined && auth !== undefined, `a session cookie and an auth cookie for ${label} on ${target.name}`);
    const read = await send({ method: 'GET', path: '/read', headers: { ...base(tenant), cookie: header(jar) } });
    assert.equal(JSON.parse(read.body).owner, label, `the seeded session of ${label} reads back on ${target.name}`);
    const me = await send({ method: 'GET', path: '/me', headers: { ...base(tenant), cookie: header(jar) } });
    assert.equal(JSON.parse(me.body)?.sub, user, `the signed-in user of ${label} reads back on ${target.name}`);
    identities.push({ label, tenant, user, cookies: { session: stored, auth }, tokens: [after.body, jar.get(csrfCookieName)!].filter(Boolean), signed: { auth: await refused(auth, user, tenant) } });

    // A visit only: a provisional session (server store: `id~sig`).
    const visit = await send({ method: 'GET', path: '/token', headers: base(tenant) });
    const visitJar = cookiesOf(visit.setCookies, new Map());
    const provisional = visitJar.get(name);
    if (provisional !== undefined) {
      identities.push({ label: null, tenant, user: null, cookies: { session: provisional }, tokens: [visit.body, visitJar.get(csrfCookieName)!].filter(Boolean) });
    }
  }
  return { app, tessera, mode, loggedErrors, cookieNames: { session: name, auth: authName }, csrfCookieName, identities };
}
