/**
 * How the "your devices" list describes a session: its browser from the User-Agent header, in a
 * few words, and when it was last active, relative to now. Small on purpose: a demo needs "Chrome
 * on Linux", not a full User-Agent database.
 *
 * @module
 */

/** Browsers, most specific first: Edge and Opera say "Chrome" too, and Chrome says "Safari". */
const BROWSERS: readonly [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\b(?:OPR|Opera)\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bVivaldi\//, 'Vivaldi'],
  [/\b(?:Firefox|FxiOS)\//, 'Firefox'],
  [/\b(?:Chrome|CriOS|Chromium)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
  [/\bcurl\//, 'curl'],
  [/\bWget\//, 'Wget'],
];

/** Operating systems, most specific first: iPhones say "like Mac OS X", Android says "Linux". */
const SYSTEMS: readonly [RegExp, string][] = [
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

/**
 * A short, readable form of a User-Agent header: `Chrome on Linux`, `Safari on iOS`, `Firefox`;
 * for a client it does not know, the first product name (`node`, `PostmanRuntime`); `Unknown
 * browser` without one.
 *
 * @example
 * ```ts
 * describeUserAgent('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36');
 * // 'Chrome on Linux'
 * ```
 */
export function describeUserAgent(userAgent: string | null | undefined): string {
  const ua = (userAgent ?? '').slice(0, 512); // the header is the client's: bound the work on it
  if (ua.trim() === '') return 'Unknown browser';
  const browser = BROWSERS.find(([pattern]) => pattern.test(ua))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1];
  if (browser) return system ? `${browser} on ${system}` : browser;
  const product = /^[\w.-]{1,40}/.exec(ua.trim())?.[0];
  if (product && product !== 'Mozilla') return system ? `${product} on ${system}` : product;
  return system ? `A browser on ${system}` : 'Unknown browser';
}

const UNITS: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
];
const RELATIVE = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/**
 * How long ago `time` was, in words: `just now` (under a minute), `5 minutes ago`, `2 hours ago`,
 * `yesterday`, `3 days ago`.
 *
 * @example
 * ```ts
 * relativeTime(Date.now() - 5 * 60_000, Date.now()); // '5 minutes ago'
 * ```
 */
export function relativeTime(time: number, now: number): string {
  const ago = Math.max(0, now - time);
  for (const [unit, ms] of UNITS) {
    if (ago >= ms) return RELATIVE.format(-Math.floor(ago / ms), unit);
  }
  return 'just now';
}
