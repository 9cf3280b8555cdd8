/**
 * The admin page's two static files, served by its router at `{path}/admin.js` and
 * `{path}/admin.css` with an ETag (so the pages need no inline script or style, and work under
 * `script-src 'self'`). The script draws the chart of active sessions as an SVG path — no chart
 * library — and polls `{path}/chart.json` every sampling interval to redraw it and the "who's
 * online" count.
 *
 * @module
 */
import { createHash } from 'node:crypto';

/** The page script, an ES module. Plain JavaScript: it is served as written. */
export const ADMIN_SCRIPT = `// tessera admin page: the chart of active sessions and "who's online", refreshed by polling chart.json.
const svg = document.getElementById('chart');
if (svg) {
  const W = 600, H = 160, TOP = 8;
  const line = svg.querySelector('.line');
  const area = svg.querySelector('.area');
  const every = Number(svg.dataset.every) || 10000;
  const text = (id, value) => { const el = document.getElementById(id); if (el) el.textContent = String(value); };
  const draw = (data) => {
    const points = data.samples;
    svg.dataset.points = String(points.length);
    if (!data.available || points.length === 0) return;
    const max = Math.max(1, ...points.map((p) => p.sessions));
    const first = points[0].at, last = points[points.length - 1].at;
    const span = Math.max(last - first, data.every);
    const xy = points.map((p) => [
      (W - (last - p.at) / span * W).toFixed(1),
      (H - p.sessions / max * (H - TOP)).toFixed(1),
    ]);
    const d = 'M' + xy.map(([x, y]) => x + ',' + y).join(' L');
    line.setAttribute('d', d);
    area.setAttribute('d', d + ' L' + xy[xy.length - 1][0] + ',' + H + ' L' + xy[0][0] + ',' + H + ' Z');
    const newest = points[points.length - 1];
    svg.dataset.last = String(newest.sessions);
    text('chart-max', max);
    text('chart-from', new Date(first).toISOString().slice(11, 19));
    text('chart-to', new Date(last).toISOString().slice(11, 19));
    text('online-sessions', newest.sessions);
    text('online-users', newest.users);
  };
  let timer;
  const refresh = async () => {
    let res;
    try {
      res = await fetch(svg.dataset.src, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
    } catch {
      return; // offline for now: the next tick tries again
    }
    if (res.status === 403 || res.status === 404) return clearInterval(timer); // signed out, or no longer an operator
    if (res.ok) draw(await res.json());
  };
  refresh();
  timer = setInterval(refresh, every);
}
`;

/** The page's stylesheet. */
export const ADMIN_CSS = `body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f; }
header { background: #1d1d1f; padding: .6rem 1.5rem; }
header a.home { color: #fff; text-decoration: none; font-weight: 600; }
main { padding: 0 1.5rem 2rem; max-width: 80rem; }
h1 { font-size: 1.4rem; }
h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: .75rem 0; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #d2d2d7; vertical-align: top; }
td.ua { max-width: 22rem; overflow-wrap: anywhere; font-size: .85rem; color: #3a3a3c; }
code { background: #f2f2f4; padding: 0 .25rem; border-radius: .2rem; }
form.inline { display: inline; margin: 0; }
form.filters { display: flex; gap: .75rem; align-items: end; flex-wrap: wrap; margin: 1rem 0; }
form.filters label { display: flex; flex-direction: column; font-size: .85rem; }
input, select, button { font: inherit; padding: .25rem .5rem; }
button { border: 1px solid #0a58ca; border-radius: .35rem; background: #fff; color: #0a58ca; cursor: pointer; }
button.danger { border-color: #b3261e; color: #b3261e; }
.online { display: flex; gap: 2rem; align-items: center; flex-wrap: wrap; }
.online .count { font-size: 2rem; font-weight: 700; }
figure { margin: 0; }
svg#chart { width: 600px; max-width: 100%; height: 160px; background: #f7f8fa; border: 1px solid #d2d2d7; }
svg#chart .line { fill: none; stroke: #0a58ca; stroke-width: 2; }
svg#chart .area { fill: #0a58ca; fill-opacity: .12; stroke: none; }
figcaption { font-size: .85rem; color: #6e6e73; }
.notice { padding: .5rem .9rem; border-radius: .35rem; background: #eef6ee; }
.error { padding: .5rem .9rem; border-radius: .35rem; background: #fdecec; }
.you { font-size: .8rem; color: #1a7f37; font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
`;

/** A static file's answer, for the router to send. */
export interface AssetReply {
  readonly status: 200 | 304;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const ASSETS = {
  'admin.js': { body: ADMIN_SCRIPT, type: 'text/javascript; charset=utf-8' },
  'admin.css': { body: ADMIN_CSS, type: 'text/css; charset=utf-8' },
} as const;
const etags = new Map<string, string>();

/**
 * Answer a request for `admin.js` or `admin.css`: 200, or 304 when `If-None-Match` names its
 * ETag (a hash of its text: a new version of tessera is fetched anew). Revalidated every time:
 * the page is for operators, few and rare.
 *
 * @example
 * ```ts
 * assetReply('admin.js', 'GET', req.headers['if-none-match']);
 * ```
 */
export function assetReply(name: keyof typeof ASSETS, method: string, ifNoneMatch: string | undefined): AssetReply {
  const asset = ASSETS[name];
  let etag = etags.get(name);
  if (etag === undefined) etags.set(name, (etag = `"${createHash('sha256').update(asset.body).digest('base64url').slice(0, 22)}"`));
  const headers: Record<string, string> = { 'cache-control': 'private, no-cache', etag, 'x-content-type-options': 'nosniff' };
  if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')) {
    return { status: 304, headers, body: '' };
  }
  return { status: 200, headers: { ...headers, 'content-type': asset.type }, body: method === 'HEAD' ? '' : asset.body };
}

/**
 * Whether `name` is one of the page's static files.
 *
 * @example
 * ```ts
 * isAsset('admin.js'); // true
 * ```
 */
export function isAsset(name: string): name is keyof typeof ASSETS {
  return Object.hasOwn(ASSETS, name);
}
