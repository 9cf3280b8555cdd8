/**
 * The manager's test matrix. Every manager test is written once and runs on each combination it
 * applies to:
 *
 * | combination                                  | backend | store answers   | records             |
 * |----------------------------------------------|---------|-----------------|---------------------|
 * | SQLite (the default)                         | server  | synchronously   | JSON, decoded cache |
 * | SQLite, encrypted at rest                    | server  | synchronously   | sealed JSON         |
 * | a store answering with promises              | server  | with promises   | JSON                |
 * | a store answering with promises, encrypted   | server  | with promises   | sealed JSON         |
 * | MemoryStore                                  | server  | synchronously   | retained objects    |
 * | CookieStore, synchronous revocation store    | cookie  | synchronously   | sealed cookie       |
 * | CookieStore, revocation store with promises  | cookie  | with promises   | sealed cookie       |
 * | CookieStore, revocation turned off           | cookie  | (no store)      | sealed cookie       |
 *
 * SQLite is a real `SqliteStore` on `:memory:` (what `createTessera()` gives, minus the file), so
 * the default path — synchronous forms, JSON records, the decoded-record cache — is what runs.
 * MemoryStore keeps the record objects it is given (the private `RETAINS_RECORDS` mark), so the
 * manager hands it records that carry their decoded session. The promise store is a MemoryStore
 * seen only through its promise forms, which hides that mark: it gets plain string records.
 *
 * A test limited to some combinations says why where it filters (`if (c.server) it(...)`).
 */
import { after, describe } from 'node:test';
import { Tessera } from '../../src/manager.js';
import { StoreUnavailableError } from '../../src/errors.js';
import type { TesseraOptions } from '../../src/options.js';
import { CookieStore } from '../../src/stores/cookie.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { SqliteStore } from '../../src/stores/sqlite.js';
import type { StoreRecord } from '../../src/stores/store.js';
import { Browser, CountingStore, CountingSyncStore, FakeResponse, type RequestOptions } from '../helpers/browser.js';
import { FakeClock } from '../helpers/clock.js';
import type { Session } from '../../src/session.js';

export const SECRET = 'test-secret-that-is-long-enough-0123456789';
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Options of {@link Combination.setup}: the manager's options (the combination's own are the defaults). */
export type SetupOptions = Partial<TesseraOptions> & { encryptData?: boolean };

/** One request made through {@link Setup.request}. */
export interface RequestResult<T> {
  result: T;
  res: FakeResponse;
  session: Session;
  /**
   * The request wrote the session: the server store got a write, or (cookie) the response carries
   * a new sealed cookie.
   */
  wrote: boolean;
}

/** What a test gets from {@link Combination.setup}. */
export interface Setup {
  readonly combo: Combination;
  readonly clock: FakeClock;
  /**
   * The server store, or the cookie store's revocation store; wrapped to count calls. Without a
   * revocation store, a store the manager never uses (its counts stay 0).
   */
  readonly store: CountingStore;
  readonly tessera: Tessera;
  /** A browser on {@link Setup.tessera}. */
  readonly browser: Browser;
  /** One request of {@link Setup.browser}, reporting whether it wrote the session. */
  request<T>(fn: (session: Session, res: FakeResponse) => T | Promise<T>, options?: RequestOptions): Promise<RequestResult<T>>;
  /** Another manager on the same store and clock — as another process would have — with `options` on top. */
  another(options?: SetupOptions): Tessera;
}

/** One combination of the matrix. */
export interface Combination {
  readonly name: string;
  readonly backend: 'server' | 'cookie';
  /** Sessions live in a server store behind a signed ID cookie. */
  readonly server: boolean;
  /** Sessions are sealed into the cookie (`CookieStore`). */
  readonly cookie: boolean;
  /** Sessions load without a promise: the store (cookie: the revocation store, if any) answers synchronously. */
  readonly synchronous: boolean;
  /** Server store: records are sealed at rest (`encryptData`). Cookie sessions are always sealed (this is false). */
  readonly encrypted: boolean;
  /** The store keeps record objects as given (MemoryStore's retained records). */
  readonly retained: boolean;
  /** Cookie backend: how its revocation store answers, or `null` when it is turned off (`revocation: false`). */
  readonly revocation: 'sync' | 'promises' | null;
  /** What `createTessera()` gives: SQLite, JSON records. */
  readonly isDefault: boolean;
  setup(options?: SetupOptions): Setup;
}

interface Shape {
  name: string;
  backend: 'server' | 'cookie';
  synchronous: boolean;
  encrypted: boolean;
  retained: boolean;
  revocation: 'sync' | 'promises' | null;
  isDefault?: boolean;
  /** The counted store: the server store, or the revocation store. */
  store(): CountingStore;
}

/** Managers made by setups, closed after each suite (it closes their stores). */
const opened: Tessera[] = [];

function combination(shape: Shape): Combination {
  const combo: Combination = {
    name: shape.name,
    backend: shape.backend,
    server: shape.backend === 'server',
    cookie: shape.backend === 'cookie',
    synchronous: shape.synchronous,
    encrypted: shape.encrypted,
    retained: shape.retained,
    revocation: shape.revocation,
    isDefault: shape.isDefault ?? false,
    setup(options: SetupOptions = {}): Setup {
      const clock = new FakeClock();
      const store = shape.store();
      const managerStore = shape.backend === 'cookie' ? new CookieStore({ revocation: shape.revocation === null ? false : store }) : store;
      const base = { secrets: [SECRET], now: clock.now, cleanupInterval: 0, logger: {}, cookie: { secure: true }, encryptData: shape.encrypted };
      const make = (more: SetupOptions): Tessera => new Tessera({ ...base, ...options, ...more, store: managerStore });
      const tessera = make({});
      opened.push(tessera);
      const browser = new Browser(tessera);
      return {
        combo,
        clock,
        store,
        tessera,
        browser,
        another: make,
        async request(fn, requestOptions) {
          const before = store.calls.set;
          const out = await browser.request(fn, requestOptions);
          const sealed = out.res.cookies.some((line) => line.startsWith(`${tessera.cookieName}=`) && !/Max-Age=0;/.test(line));
          return { ...out, wrote: shape.backend === 'server' ? store.calls.set > before : sealed };
        },
      };
    },
  };
  return combo;
}

/** Every combination; the first is the default one. */
export const COMBINATIONS: readonly Combination[] = [
  combination({
    name: 'SQLite (default: synchronous forms, JSON records)',
    backend: 'server',
    synchronous: true,
    encrypted: false,
    retained: false,
    revocation: null,
    isDefault: true,
    store: () => new CountingSyncStore(new SqliteStore({ path: ':memory:' })),
  }),
  combination({
    name: 'SQLite, encrypted at rest',
    backend: 'server',
    synchronous: true,
    encrypted: true,
    retained: false,
    revocation: null,
    store: () => new CountingSyncStore(new SqliteStore({ path: ':memory:' })),
  }),
  combination({
    name: 'store answering with promises, JSON records',
    backend: 'server',
    synchronous: false,
    encrypted: false,
    retained: false,
    revocation: null,
    store: () => new CountingStore(new MemoryStore()),
  }),
  combination({
    name: 'store answering with promises, encrypted at rest',
    backend: 'server',
    synchronous: false,
    encrypted: true,
    retained: false,
    revocation: null,
    store: () => new CountingStore(new MemoryStore()),
  }),
  combination({
    name: 'MemoryStore (retained records)',
    backend: 'server',
    synchronous: true,
    encrypted: false,
    retained: true,
    revocation: null,
    store: () => new CountingSyncStore(new MemoryStore()),
  }),
  combination({
    name: 'CookieStore, revocation store answering synchronously',
    backend: 'cookie',
    synchronous: true,
    encrypted: false,
    retained: false,
    revocation: 'sync',
    store: () => new CountingSyncStore(new MemoryStore()),
  }),
  combination({
    name: 'CookieStore, revocation store answering with promises',
    backend: 'cookie',
    synchronous: false,
    encrypted: false,
    retained: false,
    revocation: 'promises',
    store: () => new CountingStore(new MemoryStore()),
  }),
  combination({
    name: 'CookieStore, revocation turned off (revocation: false)',
    backend: 'cookie',
    synchronous: true,
    encrypted: false,
    retained: false,
    revocation: null,
    store: () => new CountingStore(new MemoryStore()),
  }),
];

/**
 * Register `suite` once for each combination `applies` to, each in a `describe` named after its
 * combination, under `title`.
 *
 * @example
 * ```ts
 * matrix('expiry', (c) => {
 *   it('expires an idle session', async () => { const { browser, clock } = c.setup(); ... });
 * });
 * ```
 */
export function matrix(title: string, suite: (c: Combination) => void, applies: (c: Combination) => boolean = () => true): void {
  describe(title, () => {
    after(async () => {
      for (const tessera of opened.splice(0)) await tessera.close();
    });
    for (const c of COMBINATIONS) if (applies(c)) describe(c.name, () => suite(c));
  });
}

type Method = 'get' | 'set' | 'delete';

/**
 * Make the next `count` calls of `method` fail with `error`, in whichever form the manager calls
 * (`getSync` / `setSync` / `deleteSync` on a store answering synchronously, else the promise form).
 */
export function failNext(store: CountingStore, method: Method, count = 1, error: Error = new StoreUnavailableError('down for a moment')): void {
  const sync = typeof (store as Partial<CountingSyncStore>).getSync === 'function';
  const name = sync ? (`${method}Sync` as const) : method;
  const target = store as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = target[name]!.bind(store);
  let left = count;
  target[name] = (...args: unknown[]) => {
    if (left-- > 0) {
      if (sync) throw error;
      return Promise.reject(error);
    }
    return original(...args);
  };
}

/**
 * Hold the next `count` writes (default: all) of a store answering with promises until the test
 * opens the gate: a write made meanwhile is "in flight"; later ones go through. Returns
 * `release(fail?)`: with `fail`, the held writes reject with it.
 */
export function holdWrites(store: CountingStore, count = Infinity): (fail?: Error) => void {
  if (typeof (store as Partial<CountingSyncStore>).setSync === 'function') throw new Error('holdWrites: a synchronous store has no write in flight');
  const set = store.set.bind(store);
  let open!: (fail: Error | undefined) => void;
  const gate = new Promise<Error | undefined>((resolve) => (open = resolve));
  let left = count;
  store.set = async (key: string, record: StoreRecord, expected: number, ctx: { now: number }) => {
    if (left-- <= 0) return set(key, record, expected, ctx);
    const fail = await gate;
    if (fail) throw fail;
    return set(key, record, expected, ctx);
  };
  return (fail?: Error) => {
    store.set = set;
    open(fail);
  };
}

/** Let queued commits start (they run after the current synchronous code). */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
