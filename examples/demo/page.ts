/**
 * The demo's HTML: one page layout, no external assets; scripts only on the live page.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escape text for HTML content and attribute values.
 *
 * @example
 * ```ts
 * html`<p>${userInput}</p>`; // prefer the tag, which escapes for you
 * escapeHtml('<b>');         // '&lt;b&gt;'
 * ```
 */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * Markup that {@link html} inserts as is (what `html` returns). Wrap only trusted, constant markup.
 *
 * @example
 * ```ts
 * html`<style>${new Html(css)}</style>`;
 * ```
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/**
 * A template tag: interpolated values are escaped, except {@link Html} (nested `html` results)
 * and arrays of them.
 *
 * @example
 * ```ts
 * const item = html`<li>${name}</li>`;
 * const list = html`<ul>${[item, item]}</ul>`;
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    const parts = Array.isArray(value) ? value : [value];
    for (const part of parts) out += part instanceof Html ? part.value : escapeHtml(part ?? '');
    out += strings[i + 1]!;
  });
  return new Html(out);
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1d1d1f; }
  h1 { font-size: 1.6rem; margin-bottom: .25rem; }
  nav { display: flex; gap: 1rem; margin: 1.5rem 0; }
  nav a { padding: .4rem .9rem; border: 1px solid #0a58ca; border-radius: .4rem; color: #0a58ca; text-decoration: none; }
  nav a[aria-current] { background: #0a58ca; color: #fff; }
  .count { font-size: 3rem; font-weight: 700; }
  code { background: #f2f2f4; padding: 0 .25rem; border-radius: .2rem; }
  footer { margin-top: 2rem; color: #6e6e73; font-size: .9rem; }
  form.inline { display: inline; margin: 0; }
  button { font: inherit; padding: .3rem .8rem; border: 1px solid #0a58ca; border-radius: .4rem; background: #fff; color: #0a58ca; cursor: pointer; }
  nav button { padding: .4rem .9rem; }
  input[type=text] { font: inherit; padding: .3rem .5rem; }
  table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
  th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid #d2d2d7; vertical-align: top; }
  .this-device { font-weight: 600; color: #1a7f37; }
  .notice { padding: .5rem .9rem; border-radius: .4rem; background: #eef6ee; }
  .error { padding: .5rem .9rem; border-radius: .4rem; background: #fdecec; }
`;

/**
 * Who is signed in, for the navigation bar: their name, and the CSRF field its sign-out form
 * posts (`session.csrfField()`, markup the library escaped).
 */
export interface SignedIn {
  readonly name: string;
  readonly csrfField: string;
}

/**
 * A whole page: title, navigation to every route (the current one marked), body. With `user`,
 * the navigation links to the account page and has a sign-out button; without, a sign-in link.
 *
 * @example
 * ```ts
 * send(res, 200, layout({ title: 'Counter', path: '/increment', body: html`<p>1</p>` }));
 * ```
 */
export function layout(options: { title: string; path: string; body: Html; footer?: Html; user?: SignedIn | null }): Html {
  const user = options.user ?? null;
  const links: [string, string][] = [
    ['/', 'Home'],
    ['/increment', 'Increment'],
    ['/clear', 'Clear session'],
    ['/live', 'Live tabs'],
    user ? ['/account', 'Your account'] : ['/sign-in', 'Sign in'],
    ...(user ? ([['/admin', 'Admin']] as [string, string][]) : []),
  ];
  const nav = links.map(([href, text]) =>
    href === options.path ? html`<a href="${href}" aria-current="page">${text}</a>` : html`<a href="${href}">${text}</a>`,
  );
  if (user) {
    nav.push(html`<form class="inline" method="post" action="/sign-out">${new Html(user.csrfField)}<button id="sign-out">Sign out ${user.name}</button></form>`);
  }
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.path === '/' ? options.title : `${options.title} · tessera demo`}</title>
<style>${new Html(STYLE)}</style>
</head>
<body>
<h1>${options.title}</h1>
<nav>${nav}</nav>
<main>
${options.body}
</main>
<footer>${options.footer ?? ''}</footer>
</body>
</html>
`;
}

/**
 * Send an HTML page. Pages show per-session state, so they are never cached, and the headers
 * forbid framing, content sniffing and scripts — except the demo's own on a page that asks for
 * them (`scripts: true`, the live page).
 *
 * @example
 * ```ts
 * send(res, 404, layout({ title: 'Not found', path: '', body: html`<p>No such page.</p>` }));
 * ```
 */
export function send(res: ServerResponse, status: number, page: Html, options: { scripts?: boolean } = {}): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/html; charset=utf-8');
  securityHeaders(res, options.scripts === true);
  res.end(page.value);
}

/**
 * Answer a form's POST with `303 See Other` to `location` (a path of this site), so reloading the
 * page that follows does not post the form again.
 *
 * @example
 * ```ts
 * redirect(res, '/account');
 * ```
 */
export function redirect(res: ServerResponse, location: `/${string}`): void {
  res.statusCode = 303;
  res.setHeader('location', location);
  res.setHeader('content-type', 'text/html; charset=utf-8');
  securityHeaders(res);
  res.end(html`<p>See <a href="${location}">${location}</a>.</p>`.value);
}

function securityHeaders(res: ServerResponse, scripts = false): void {
  res.setHeader('cache-control', 'no-store');
  // form-action 'self': the demo's forms (sign-in, sign-out, revoke) post only to the demo itself.
  // The live page runs the demo's own scripts (the live client, demo-live.js) and its stream; no other page runs any.
  const live = scripts ? " script-src 'self'; connect-src 'self';" : '';
  res.setHeader('content-security-policy', `default-src 'none';${live} style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'`);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
}
