/**
 * HTML for the admin page: a template tag that escapes every value it is given (user IDs, user
 * agents, IPs, tenants all come from the outside), and the page frame. The pages load no inline
 * script or style: the frame links the page's own `admin.css` and `admin.js`, so they work under
 * the Content-Security-Policy the router sends (`script-src 'self'`).
 *
 * @module
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escape text for HTML content and quoted attribute values.
 *
 * @example
 * ```ts
 * escapeHtml('<script>'); // '&lt;script&gt;'
 * ```
 */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * Markup that {@link html} inserts as is: what `html` returns. Never wrap outside input in it.
 *
 * @example
 * ```ts
 * html`<p>${new Markup(session.csrfField())}</p>`;
 * ```
 */
export class Markup {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/**
 * A template tag: each interpolated value is escaped, except {@link Markup} (nested `html`
 * results) and arrays of them; `null` and `undefined` are empty.
 *
 * @example
 * ```ts
 * const row = html`<td>${session.userAgent}</td>`; // a hostile user agent renders as text
 * html`<tr>${[row, row]}</tr>`;
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Markup {
  let out = strings[0]!;
  values.forEach((value, i) => {
    for (const part of Array.isArray(value) ? value : [value]) out += part instanceof Markup ? part.value : escapeHtml(part ?? '');
    out += strings[i + 1]!;
  });
  return new Markup(out);
}

/**
 * A time for people: `2026-01-01 12:00:05 UTC`, in a `<time>` element; `—` for none.
 *
 * @example
 * ```ts
 * timeOf(0); // <time datetime="1970-01-01T00:00:00.000Z">1970-01-01 00:00:00 UTC</time>
 * ```
 */
export function timeOf(ms: number | null): Markup {
  if (ms === null || !Number.isFinite(ms)) return html`—`;
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC</time>`;
}

/**
 * How long ago `ms` was, before `now`: `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`.
 *
 * @example
 * ```ts
 * ago(now - 90_000, now); // '1 min ago'
 * ```
 */
export function ago(ms: number | null, now: number): string {
  if (ms === null || !Number.isFinite(ms)) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/**
 * A whole admin page: title, the links to the page's stylesheet and script (under `base`), body.
 *
 * @example
 * ```ts
 * frame({ base: '/admin', title: 'Sessions', body: html`<p>none</p>` });
 * ```
 */
export function frame(options: { base: string; title: string; body: Markup }): Markup {
  const { base } = options;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · tessera admin</title>
<link rel="stylesheet" href="${base}/admin.css">
<script type="module" src="${base}/admin.js"></script>
</head>
<body>
<header><a class="home" href="${base}">tessera admin</a></header>
<main>
<h1>${options.title}</h1>
${options.body}
</main>
</body>
</html>
`;
}
