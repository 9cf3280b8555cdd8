/**
 * The CLI's commands over sessions, on `tessera.admin`: `sessions list`, `sessions show`,
 * `sessions revoke`, `sessions revoke-user` and `stats`. Sessions are named by their handle (the
 * store key), never by their ID.
 *
 * @module
 */
import type { AdminSession } from '../admin.js';
import type { Tessera } from '../manager.js';
import type { SessionStore } from '../stores/store.js';
import { EXIT, UsageError, parseCount, parseSince, type CommandSpec } from './args.js';
import { withSessions, type Command } from './command.js';
import { expiryOf } from './open.js';
import { formatJson, formatSession, formatSessionTable, formatStats } from './output.js';
import { Progress } from './progress.js';

const LIST: CommandSpec = {
  name: 'sessions list',
  summary: 'List live sessions, filtered by user, tenant or recent activity.',
  details:
    'Filters combine. Without --all, one page of --limit sessions is printed; the command to print\n' +
    'the next page goes to standard error (in --json, the page\'s "next" cursor).',
  store: true,
  reads: true,
  options: {
    user: { type: 'string', short: 'u', value: 'id', help: "only this user's sessions (all on one page)" },
    tenant: { type: 'string', short: 't', value: 'name', help: "only this tenant's sessions" },
    'active-since': { type: 'string', value: 'when', help: 'only sessions active since then: 15m, 2h, 7d ago, or a date (needs a store that keeps activity)' },
    limit: { type: 'string', short: 'n', value: 'n', help: 'sessions per page, 1 to 1000 (default 50)' },
    cursor: { type: 'string', value: 'next', help: 'the page after the one that gave this cursor' },
    all: { type: 'boolean', short: 'a', help: 'every page' },
    json: { type: 'boolean', help: 'print JSON: { "sessions": [...], "next": cursor or null }' },
  },
};

const SHOW: CommandSpec = {
  name: 'sessions show',
  summary: 'Show one session by its handle, with its tabs. Exit code 3 when there is none.',
  args: ['handle'],
  store: true,
  reads: true,
  options: { json: { type: 'boolean', help: 'print JSON' } },
};

const REVOKE: CommandSpec = {
  name: 'sessions revoke',
  summary: "Revoke sessions by handle: each one's next request starts a new session. Exit code 3 when one was not found.",
  args: ['handle...'],
  store: true,
  reads: true,
};

const REVOKE_USER: CommandSpec = {
  name: 'sessions revoke-user',
  summary: 'Revoke every session of a user (within --tenant when given), and print how many.',
  args: ['user'],
  store: true,
  reads: true,
  options: {
    tenant: { type: 'string', short: 't', value: 'name', help: "only the user's sessions in this tenant" },
    json: { type: 'boolean', help: 'print JSON: { "revoked": n }' },
  },
};

const STATS: CommandSpec = {
  name: 'stats',
  summary: 'Count live sessions, signed-in sessions and users, per tenant, and the recently active ones.',
  store: true,
  reads: true,
  options: {
    tenant: { type: 'string', short: 't', value: 'name', help: "only this tenant's sessions" },
    json: { type: 'boolean', help: 'print JSON' },
  },
};

/**
 * `tessera sessions list`.
 *
 * @example
 * ```ts
 * await listCommand.run(parseCommand(listCommand.spec, ['--user', 'u1']), io);
 * ```
 */
export const listCommand: Command = {
  spec: LIST,
  run: (parsed, io) => {
    const v = parsed.values;
    const query = {
      ...(v.user === undefined ? {} : { userId: v.user as string }),
      ...(v.tenant === undefined ? {} : { tenant: v.tenant as string }),
      ...(v['active-since'] === undefined ? {} : { activeSince: parseSince(v['active-since'] as string, Date.now(), LIST.name) }),
      limit: v.limit === undefined ? 50 : parseCount('--limit', v.limit as string, 1, 1_000, LIST.name),
    };
    if (v.all === true && v.cursor !== undefined) throw new UsageError('--all starts from the first page: leave out --cursor', LIST.name);
    return withSessions(parsed, LIST, io, async (tessera, opened) => {
      const sessions: AdminSession[] = [];
      let cursor = (v.cursor as string | undefined) ?? null;
      // A store may answer a page with fewer than asked (Redis scans): ask on until the page is full.
      do {
        const limit = v.all === true ? query.limit : query.limit - sessions.length;
        const page = await tessera.admin.list({ ...query, limit, cursor });
        sessions.push(...(await withRecordedExpiry(opened.store, page.sessions)));
        cursor = page.next;
      } while (cursor !== null && (v.all === true || sessions.length < query.limit));
      if (v.json === true) {
        io.out.write(formatJson({ sessions, next: cursor }));
      } else {
        io.out.write(sessions.length === 0 ? 'no sessions\n' : formatSessionTable(sessions));
        if (cursor !== null) io.err.write(`more: tessera ${LIST.name} … --cursor '${cursor}' (or --all)\n`);
      }
      return EXIT.ok;
    });
  },
};

/**
 * `tessera sessions show <handle>`.
 *
 * @example
 * ```ts
 * const code = await showCommand.run(parseCommand(showCommand.spec, [handle]), io); // 3: no such session
 * ```
 */
export const showCommand: Command = {
  spec: SHOW,
  run: (parsed, io) =>
    withSessions(parsed, SHOW, io, async (tessera, opened) => {
      const handle = parsed.args[0]!;
      const [session] = await withRecordedExpiry(opened.store, await found(tessera, handle));
      if (session === undefined) {
        io.err.write(`tessera: no live session with the handle ${JSON.stringify(handle)}\n`);
        return EXIT.notFound;
      }
      io.out.write(parsed.values.json === true ? formatJson(session) : formatSession(session));
      return EXIT.ok;
    }),
};

/**
 * `tessera sessions revoke <handle>...`.
 *
 * @example
 * ```ts
 * await revokeCommand.run(parseCommand(revokeCommand.spec, [handleA, handleB]), io);
 * ```
 */
export const revokeCommand: Command = {
  spec: REVOKE,
  run: (parsed, io) =>
    withSessions(parsed, REVOKE, io, async (tessera) => {
      let code: number = EXIT.ok;
      for (const handle of parsed.args) {
        if (await tessera.admin.revoke(handle)) {
          io.out.write(`revoked ${handle}\n`);
        } else {
          io.err.write(`tessera: no live session with the handle ${JSON.stringify(handle)}\n`);
          code = EXIT.notFound;
        }
      }
      return code;
    }),
};

/**
 * `tessera sessions revoke-user <user>`.
 *
 * @example
 * ```ts
 * await revokeUserCommand.run(parseCommand(revokeUserCommand.spec, ['u1', '--tenant', 'acme']), io);
 * ```
 */
export const revokeUserCommand: Command = {
  spec: REVOKE_USER,
  run: (parsed, io) =>
    withSessions(parsed, REVOKE_USER, io, async (tessera) => {
      const user = parsed.args[0]!;
      const tenant = parsed.values.tenant as string | undefined;
      const revoked = await tessera.admin.revokeUser(user, tenant === undefined ? {} : { tenant });
      if (parsed.values.json === true) io.out.write(formatJson({ revoked }));
      else io.out.write(`revoked ${revoked} session${revoked === 1 ? '' : 's'} of ${JSON.stringify(user)}${tenant === undefined ? '' : ` in ${JSON.stringify(tenant)}`}\n`);
      return EXIT.ok;
    }),
};

/**
 * `tessera stats`.
 *
 * @example
 * ```ts
 * await statsCommand.run(parseCommand(statsCommand.spec, ['--json']), io);
 * ```
 */
export const statsCommand: Command = {
  spec: STATS,
  run: (parsed, io) =>
    withSessions(parsed, STATS, io, async (tessera) => {
      const tenant = parsed.values.tenant as string | undefined;
      // Only on a terminal: a walk over a small store is over before a line would be worth it.
      const progress = io.err.isTTY === true ? new Progress(io.err, { label: 'counting sessions', total: null }) : null;
      let stats;
      try {
        stats = await tessera.admin.stats({ ...(tenant === undefined ? {} : { tenant }), onProgress: (n) => progress?.update(n) });
      } catch (error) {
        progress?.abort();
        throw error;
      }
      progress?.finish(stats.sessions);
      io.out.write(parsed.values.json === true ? formatJson(stats) : formatStats(stats));
      return EXIT.ok;
    }),
};

/** The session under `handle`, as a list of none or one. */
async function found(tessera: Tessera, handle: string): Promise<AdminSession[]> {
  const session = await tessera.admin.show(handle);
  return session === null ? [] : [session];
}

/**
 * `sessions` with the expiry the app wrote into each one's record (the CLI does not know the
 * app's lifetimes); those whose record has gone meanwhile are left out.
 */
async function withRecordedExpiry(store: SessionStore, sessions: readonly AdminSession[]): Promise<AdminSession[]> {
  const expiries = await Promise.all(sessions.map((s) => expiryOf(store, s.handle)));
  return sessions.flatMap((s, i) => (expiries[i] === null ? [] : [{ ...s, expiresAt: expiries[i]! }]));
}
