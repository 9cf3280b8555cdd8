/**
 * The live protocol: the events a server pushes to a tab, how they look on the wire
 * (server-sent events), and the names the browser client and the server agree on.
 *
 * On the wire, each event is one SSE message: `id:` its event ID (`<hub>.<n>`, for
 * `Last-Event-ID` on reconnect), `event:` the type, `data:` the event as JSON. Heartbeats are SSE
 * comments (`: ping`). The first message of a stream is `hello` (`{ tab, heartbeat, last }`, `last`
 * the newest event ID then: a reconnect before any event came says it); the last,
 * when the server ends the stream for good (the session was destroyed, signed out, revoked or
 * expired), is `end` (`{ reason }`), after which the client does not reconnect.
 *
 * @module
 */
import { LiveError } from '../errors.js';

/**
 * How an `html` event changes its target: `replace` the element itself (outerHTML), set its
 * content (`inner`), `append` or `prepend` to its content, or `remove` the element.
 *
 * @example
 * ```ts
 * const mode: HtmlMode = 'append';
 * ```
 */
export type HtmlMode = 'replace' | 'inner' | 'append' | 'prepend' | 'remove';

/**
 * An event for a tab.
 * - `html`: change the elements `target` (a CSS selector) matches, by `mode` (default `inner`).
 *   The HTML is inserted as given: build it from escaped values, as for any server-rendered page.
 * - `reload`: reload the page. `navigate`: go to `path` (same origin only).
 * - `cookie`: a sealed, one-time `ticket` the tab posts back, whose response sets cookies
 *   (see `live.setCookie`): the way a push sets an HttpOnly cookie.
 * - `event`: a `CustomEvent` named `name` dispatched on `document` with `detail`, for the app's
 *   own script.
 *
 * @example
 * ```ts
 * const events: LiveEvent[] = [
 *   { type: 'html', target: '#cart-count', html: '3' },
 *   { type: 'html', target: '#log', html: '<li>saved</li>', mode: 'append' },
 *   { type: 'navigate', path: '/signed-out' },
 *   { type: 'event', name: 'cart:changed', detail: { count: 3 } },
 * ];
 * ```
 */
export type LiveEvent =
  | { readonly type: 'html'; readonly target: string; readonly html?: string; readonly mode?: HtmlMode }
  | { readonly type: 'reload' }
  | { readonly type: 'navigate'; readonly path: string }
  | { readonly type: 'cookie'; readonly ticket: string }
  | { readonly type: 'event'; readonly name: string; readonly detail?: unknown };

/**
 * The request header (and form field `_tab`) by which the browser client names its tab on every
 * same-origin request; the stream names it in its `tab` query parameter.
 *
 * @example
 * ```ts
 * fetch('/cart', { method: 'POST', headers: { [TAB_HEADER]: tabId, 'x-csrf-token': token } });
 * ```
 */
export const TAB_HEADER = 'x-tessera-tab';

/**
 * What a tab ID looks like: 8 to 64 characters of `A-Z a-z 0-9 _ -` (the client makes 22 from
 * 16 random bytes). Anything else is not a tab ID.
 *
 * @example
 * ```ts
 * isTabId('k3Jd9_aQ0xZ-7mNw1pLr2A'); // true
 * isTabId('<script>');              // false
 * ```
 */
export function isTabId(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 8 && value.length <= 64 && /^[A-Za-z0-9_-]+$/.test(value);
}

const HTML_MODES: ReadonlySet<string> = new Set(['replace', 'inner', 'append', 'prepend', 'remove']);

/**
 * Check an event an app gives to a push, and return it as sent: the fields of its type, no others.
 *
 * @throws {@link LiveError} on an unknown type or a field of the wrong kind.
 * @example
 * ```ts
 * checkEvent({ type: 'navigate', path: '/home' }); // ok
 * checkEvent({ type: 'navigate', path: 'https://evil.example' }); // LiveError: same-origin paths only
 * ```
 */
export function checkEvent(event: LiveEvent): LiveEvent {
  if (event === null || typeof event !== 'object') throw new LiveError('a live event must be an object with a type');
  switch (event.type) {
    case 'html': {
      if (typeof event.target !== 'string' || event.target === '') throw new LiveError('an html event needs a target selector');
      const mode = event.mode ?? 'inner';
      if (!HTML_MODES.has(mode)) throw new LiveError(`an html event's mode is one of ${[...HTML_MODES].join(', ')}`);
      if (mode !== 'remove' && typeof event.html !== 'string') throw new LiveError('an html event needs its html (a string)');
      return mode === 'remove' ? { type: 'html', target: event.target, mode } : { type: 'html', target: event.target, html: event.html!, mode };
    }
    case 'reload':
      return { type: 'reload' };
    case 'navigate':
      // A path on this origin: "/x", not "//host/x" or "https://...".
      if (typeof event.path !== 'string' || !event.path.startsWith('/') || event.path.startsWith('//') || event.path.includes('\\')) {
        throw new LiveError('a navigate event takes a path on this site ("/account"), not a URL');
      }
      return { type: 'navigate', path: event.path };
    case 'cookie':
      if (typeof event.ticket !== 'string' || event.ticket === '') throw new LiveError('a cookie event carries a ticket (use live.setCookie)');
      return { type: 'cookie', ticket: event.ticket };
    case 'event':
      if (typeof event.name !== 'string' || event.name === '') throw new LiveError('a custom event needs a name');
      return event.detail === undefined ? { type: 'event', name: event.name } : { type: 'event', name: event.name, detail: event.detail };
    default:
      throw new LiveError(`unknown live event type: ${String((event as { type?: unknown }).type)}`);
  }
}

/**
 * An event as an SSE message without its `id:` line: `event:` (the type) and `data:` (the JSON).
 * Made once per push, however many tabs it goes to; each tab puts its own `id:` line in front
 * ({@link sseMessage}). The JSON has no line breaks (JSON.stringify escapes them), so `data` is
 * one line.
 *
 * @example
 * ```ts
 * sseBody({ type: 'reload' }); // 'event: reload\ndata: {"type":"reload"}\n\n'
 * ```
 */
export function sseBody(event: LiveEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * One SSE message as written on a tab's stream: its `id:` line — `<hub>.<n>`, the process that
 * sent it and its number there — then the event's {@link sseBody}.
 *
 * @example
 * ```ts
 * sseMessage('aB3dE5fG.7', sseBody({ type: 'reload' })); // 'id: aB3dE5fG.7\nevent: reload\ndata: {"type":"reload"}\n\n'
 * ```
 */
export function sseMessage(id: string, body: string): string {
  return `id: ${id}\n${body}`;
}

/**
 * The stream's control messages (no `id`: they are not replayed): `hello` first, `end` last.
 *
 * @example
 * ```ts
 * sseControl('end', { reason: 'destroyed' }); // 'event: end\ndata: {"reason":"destroyed"}\n\n'
 * ```
 */
export function sseControl(name: 'hello' | 'end', data: object): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Why the server ended a stream for good (the `end` message's `reason`): the session was
 * `destroyed` (also sign-out everywhere, revoke by an operator), `signed-out`, `expired` or
 * `idle` (signed out for inactivity) — the client reloads the page — or the tab was `evicted`: the
 * session opened more than `maxTabsPerSession` streams in one process and this one is the oldest
 * (the client stops, and does not reload). A server that shuts down closes its streams without `end`: the
 * client reconnects, to another process or to the server once it is back.
 *
 * @example
 * ```ts
 * const reason: EndReason = 'expired';
 * ```
 */
export type EndReason = 'destroyed' | 'signed-out' | 'expired' | 'idle' | 'evicted';
