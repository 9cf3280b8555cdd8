/// <reference lib="dom" />
/**
 * The browser client of live tabs: an ES module with no dependencies, which tessera serves at
 * `{live.path}/client.js` and apps may import as `tessera/live/client`. It names its tab (an ID
 * kept in `sessionStorage`), sends that ID and the CSRF token with the page's same-origin `fetch`
 * requests and POST forms, opens the tab's event stream, applies the events the server pushes, and
 * reconnects (with backoff, resuming after the last event it saw) until the server ends the stream.
 *
 * This file runs in browsers: it is type-checked against the DOM by `tsconfig.client.json` (the
 * main tsconfig leaves it out), and scripts/build-client.ts minifies it into `client-script.ts`,
 * the text the server serves. Its exported types name no DOM type, so a Node program can import
 * them.
 *
 * @module
 */
import type { LiveEvent } from './protocol.js';

/**
 * Options of {@link connect}.
 *
 * @example
 * ```ts
 * const options: LiveClientOptions = { path: '/live', reloadOnEnd: false, retry: { min: 250, max: 10_000 } };
 * ```
 */
export interface LiveClientOptions {
  /** The server's `live.path`. Default `/tessera/live`. */
  path?: string;
  /**
   * Called with every event before the client applies it, in order; return `false` to skip the
   * client's own handling of that event.
   */
  onEvent?: (event: LiveEvent) => boolean | void;
  /**
   * Reload the page when the server ends the stream for good (the session was destroyed, signed
   * out, expired or idle), so that it shows what a visitor without that session sees — unless the
   * page is already being left, or a `tessera:end` listener called `preventDefault()`. Default `true`.
   */
  reloadOnEnd?: boolean;
  /**
   * Reconnect delays (ms): `min` after the first failure, doubling with each further one up to
   * `max`, each drawn at random between half and all of that. Defaults 500 and 15000.
   */
  retry?: { min?: number; max?: number };
  /**
   * The server's CSRF names, when its `csrf` options changed them: the request `header` (default
   * `x-csrf-token`), the form `field` (`_csrf`) and the readable `cookie` (`__Host-tessera-csrf`,
   * or `tessera-csrf`). The token is taken from that cookie, else from `<meta name="csrf-token">`.
   */
  csrf?: { header?: string; field?: string; cookie?: string };
}

/**
 * A connected tab, as {@link connect} returns it.
 *
 * @example
 * ```ts
 * const live: LiveClient = connect();
 * console.log(live.tab);
 * live.close();
 * ```
 */
export interface LiveClient {
  /** This tab's ID, as sent in `x-tessera-tab` and `_tab`. */
  readonly tab: string;
  /** Close the stream for good (no reconnect). The tab header keeps being sent on `fetch` requests. */
  close(): void;
}

// Kept equal to protocol.ts's TAB_HEADER (a test checks): this module imports nothing at run time.
const TAB_HEADER = 'x-tessera-tab';
const TAB_KEY = 'tessera-tab';
const OPEN_KEY = 'tessera-tab-open';
const EVENT_TYPES = ['html', 'reload', 'navigate', 'cookie', 'event'];

let current: LiveClient | undefined;
let id: string | undefined;
let csrfNames = { header: 'x-csrf-token', field: '_csrf', cookie: '' };
let installed = false;
let leaving = false;

function storage(): Storage | undefined {
  try {
    return sessionStorage;
  } catch {
    return undefined; // storage disabled: the ID lives as long as the page
  }
}

/**
 * This tab's ID: 16 random bytes, base64url, kept in `sessionStorage` so that it survives reloads
 * and navigation within the tab. A page that finds the mark of a page still open in its storage is
 * in a copy of that tab (duplicated, or opened by it with `window.open`, which copy
 * `sessionStorage`) and makes an ID of its own.
 *
 * @example
 * ```ts
 * await fetch('/cart', { headers: { 'x-tessera-tab': tabId() } });
 * ```
 */
export function tabId(): string {
  if (id !== undefined) return id;
  const store = storage();
  id = store?.getItem(TAB_KEY) ?? '';
  if (!/^[\w-]{8,64}$/.test(id) || store?.getItem(OPEN_KEY)) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  const mark = (): void => {
    try {
      store?.setItem(TAB_KEY, id!);
      store?.setItem(OPEN_KEY, '1');
    } catch {
      // full or disabled storage
    }
  };
  mark();
  addEventListener('pageshow', mark);
  addEventListener('pagehide', () => store?.removeItem(OPEN_KEY));
  return id;
}

/**
 * The CSRF token of this page: from the readable token cookie, which follows the session when its
 * ID changes (a live sign-in, another tab's), else `<meta name="csrf-token" content>`; `null` when
 * neither is there.
 *
 * @example
 * ```ts
 * await fetch('/cart', { method: 'POST', headers: { 'x-csrf-token': csrfToken() ?? '' } });
 * ```
 */
export function csrfToken(): string | null {
  const names = csrfNames.cookie ? [csrfNames.cookie] : ['__Host-tessera-csrf', 'tessera-csrf'];
  for (const pair of document.cookie.split('; ')) {
    const at = pair.indexOf('=');
    if (names.includes(pair.slice(0, at))) return decodeURIComponent(pair.slice(at + 1));
  }
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content || null;
}

function sameOrigin(url: string): boolean {
  try {
    return new URL(url, document.baseURI).origin === location.origin;
  } catch {
    return false;
  }
}

/** The original `fetch`, before {@link install} wrapped it. */
let send: typeof fetch;

/** Adds the tab and CSRF headers to same-origin `fetch` requests, and the fields to same-origin POST forms. */
function install(): void {
  if (installed) return;
  installed = true;
  send = fetch.bind(window);
  window.fetch = (input, init) => {
    const request = input instanceof Request ? input : null;
    if (!sameOrigin(request ? request.url : String(input))) return send(input, init);
    const headers = new Headers(init?.headers ?? request?.headers);
    const token = csrfToken();
    if (!headers.has(TAB_HEADER)) headers.set(TAB_HEADER, tabId());
    if (token && !headers.has(csrfNames.header)) headers.set(csrfNames.header, token);
    return send(input, { ...init, headers });
  };
  document.addEventListener(
    'submit',
    (event) => {
      const form = event.target as HTMLFormElement;
      const by = (event as SubmitEvent).submitter;
      // Attributes, not form.method / form.action: a field named "method" would shadow those.
      const attribute = (name: string): string | null => (by?.hasAttribute(`form${name}`) ? by.getAttribute(`form${name}`) : form.getAttribute(name));
      if ((attribute('method') ?? '').toLowerCase() !== 'post' || !sameOrigin(attribute('action') || location.href)) return;
      for (const [name, value] of [[csrfNames.field, csrfToken()], ['_tab', tabId()]]) {
        if (value && !form.elements.namedItem(name!)) {
          const input = document.createElement('input');
          input.type = 'hidden';
          input.name = name!;
          input.value = value;
          form.append(input);
        }
      }
    },
    true,
  );
  addEventListener('beforeunload', () => (leaving = true));
  addEventListener('pageshow', () => (leaving = false));
}

/** Dispatches `name` on `document`; false when a listener called `preventDefault()`. */
function emit(name: string, detail: unknown, cancelable = false): boolean {
  return document.dispatchEvent(new CustomEvent(name, { detail, cancelable }));
}

/**
 * Connect this tab: send its ID and the CSRF token with same-origin `fetch` requests and POST
 * forms, open its event stream at `{path}?tab=ID`, and apply what the server pushes:
 *
 * - `html`: on every element `target` matches, `replace` (outerHTML), `inner`, `append`,
 *   `prepend` or `remove`; `reload`; `navigate` (same-origin paths only);
 * - `cookie`: POST the ticket to `{path}/cookie`, whose response sets the cookies (HttpOnly ones
 *   too); later events wait for it;
 * - `event`: `new CustomEvent(name, { detail })` on `document`.
 *
 * `document` also gets `tessera:open` (`detail.tab`) each time the stream opens, `tessera:end`
 * (`detail.reason`, cancelable) when the server ends it for good, and `tessera:error` when an event
 * could not be applied. A dropped stream reconnects with backoff and gets the events pushed
 * meanwhile (`?last=`). Calling `connect` again while connected returns the same client.
 *
 * @example
 * ```ts
 * import { connect } from '/tessera/live/client.js';
 * const live = connect({ onEvent: (event) => console.log(event) });
 * document.addEventListener('cart:changed', (e) => render((e as CustomEvent).detail));
 * ```
 */
export function connect(options: LiveClientOptions = {}): LiveClient {
  if (current) return current;
  const path = (options.path ?? '/tessera/live').replace(/\/$/, '');
  const min = options.retry?.min ?? 500;
  const max = options.retry?.max ?? 15_000;
  csrfNames = { ...csrfNames, ...options.csrf };
  install();
  const tab = tabId();
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = '';
  let failures = 0;
  let closed = false;
  let queue = Promise.resolve();

  const apply = async (event: LiveEvent): Promise<void> => {
    if (options.onEvent?.(event) === false) return;
    switch (event.type) {
      case 'html':
        document.querySelectorAll(event.target).forEach((element) => {
          const html = event.html ?? '';
          const mode = event.mode ?? 'inner';
          if (mode === 'replace') element.outerHTML = html;
          else if (mode === 'inner') element.innerHTML = html;
          else if (mode === 'remove') element.remove();
          else element.insertAdjacentHTML(mode === 'append' ? 'beforeend' : 'afterbegin', html);
        });
        break;
      case 'reload':
        location.reload();
        break;
      case 'navigate':
        if (/^\/(?!\/)/.test(event.path) && !event.path.includes('\\')) location.assign(event.path);
        break;
      case 'cookie': {
        const headers: Record<string, string> = { [TAB_HEADER]: tab, 'content-type': 'text/plain;charset=UTF-8' };
        const token = csrfToken();
        if (token) headers[csrfNames.header] = token;
        const response = await send(`${path}/cookie`, { method: 'POST', headers, body: event.ticket, credentials: 'same-origin' });
        if (!response.ok) throw new Error(`cookie ticket refused (${response.status})`);
        break;
      }
      case 'event':
        document.dispatchEvent(new CustomEvent(event.name, { detail: event.detail }));
        break;
    }
  };

  const open = (): void => {
    const stream = (source = new EventSource(`${path}?tab=${tab}${last && `&last=${last}`}`));
    stream.addEventListener('hello', (message) => {
      failures = 0;
      // The server's newest event ID when the stream opened: a reconnect before any event came
      // still gets what was pushed after this (replayed events that follow set it as they come).
      last = (JSON.parse(message.data) as { last?: string }).last ?? last;
      emit('tessera:open', { tab });
    });
    stream.addEventListener('end', (message) => {
      client.close();
      const { reason } = JSON.parse(message.data) as { reason: string };
      queue = queue.then(() => {
        // `evicted`: the session's newer tabs took this one's place; the page is still good, it just stops.
        if (emit('tessera:end', { reason }, true) && options.reloadOnEnd !== false && !leaving && reason !== 'evicted') location.reload();
      });
    });
    for (const type of EVENT_TYPES) {
      stream.addEventListener(type, (message) => {
        last = message.lastEventId || last;
        const event = JSON.parse(message.data) as LiveEvent;
        queue = queue.then(() => apply(event)).catch((error: unknown) => void emit('tessera:error', { event, error }));
      });
    }
    stream.onerror = () => {
      // Also on a 4xx/5xx answer or a dropped connection; EventSource's own retry is replaced by ours.
      stream.close();
      if (closed || stream !== source) return;
      const ceiling = Math.min(max, min * 2 ** failures++);
      timer = setTimeout(open, ceiling / 2 + (Math.random() * ceiling) / 2);
    };
  };

  const client: LiveClient = {
    tab,
    close() {
      closed = true;
      clearTimeout(timer);
      source?.close();
      if (current === client) current = undefined;
    },
  };
  current = client;
  // Back online: retry now rather than when the backoff says.
  addEventListener('online', () => {
    if (!closed && source?.readyState === EventSource.CLOSED) {
      clearTimeout(timer);
      open();
    }
  });
  open();
  return client;
}

// `<script type="module" src="/tessera/live/client.js" data-auto></script>` connects by itself, with
// the path the script came from (or `data-path`); `data-reload-on-end="false"` turns off the reload.
if (typeof document !== 'undefined') {
  const script = document.querySelector<HTMLScriptElement>('script[data-auto][src*="client.js"]');
  if (script) {
    connect({
      path: script.dataset.path || new URL(script.src, location.href).pathname.replace(/\/client\.js$/, ''),
      reloadOnEnd: script.dataset.reloadOnEnd !== 'false',
    });
  }
}
