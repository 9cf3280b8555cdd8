/**
 * The `tessera` command line as a whole, run as a child process: `--help` on every command (each
 * documented in docs/cli.md), usage errors and configuration mistakes exit with 2 and say what is
 * wrong, an unreachable store exits with 1.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { tessera } from '../helpers/cli.js';
import { dropAll, tempPath } from '../helpers/cli-stores.js';

after(dropAll);

/** The commands `tessera --help` lists. */
async function commands(): Promise<string[]> {
  const help = await tessera(['--help']);
  assert.equal(help.code, 0);
  const section = help.stdout.split('Commands:\n')[1]!.split('\n\n')[0]!;
  return section.split('\n').map((line) => line.trim().split(/\s{2,}/)[0]!);
}

describe('tessera --help', () => {
  it('lists every command, the environment and the exit codes', async () => {
    const run = await tessera(['--help']);
    assert.equal(run.code, 0);
    assert.equal(run.stderr, '');
    assert.deepEqual(await commands(), ['sessions list', 'sessions show', 'sessions revoke', 'sessions revoke-user', 'stats', 'cleanup', 'migrate', 'keygen']);
    assert.match(run.stdout, /TESSERA_STORE/);
    assert.match(run.stdout, /TESSERA_SECRETS/);
    assert.match(run.stdout, /Exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 .*\n {2}3 /);
  });

  it('gives the usage of every command, with --help, -h or tessera help, each documented in docs/cli.md', async () => {
    const docs = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
    for (const name of await commands()) {
      const words = name.split(' ');
      for (const args of [[...words, '--help'], [...words, '-h'], ['help', ...words]]) {
        const run = await tessera(args);
        assert.equal(run.code, 0, `tessera ${args.join(' ')}: ${run.stderr}`);
        assert.match(run.stdout, new RegExp(`^Usage: tessera ${name} `), args.join(' '));
        assert.match(run.stdout, /--help/);
      }
      assert.match(docs, new RegExp(`^### \`tessera ${name}( |\`)`, 'm'), `docs/cli.md has a section on tessera ${name}`);
    }
    const group = await tessera(['sessions', '--help']);
    assert.equal(group.code, 0);
    assert.match(group.stdout, /^Usage: tessera sessions <command>/);
  });
});

describe('tessera usage errors', () => {
  it('exits with 2 and the usage for no command and an unknown one', async () => {
    for (const args of [[], ['frobnicate'], ['sessions', 'frobnicate'], ['help', 'frobnicate']]) {
      const run = await tessera(args);
      assert.equal(run.code, 2, args.join(' '));
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /Usage: tessera <command>/, args.join(' '));
      if (args.length > 0) assert.match(run.stderr, /unknown command/);
    }
  });

  it('exits with 2 for an unknown option, a missing argument, a bad value', async () => {
    const db = tempPath('usage.db');
    const cases: [string[], RegExp][] = [
      [['sessions', 'list', '--frobnicate'], /unknown option --frobnicate/],
      [['sessions', 'show'], /missing argument <handle>/],
      [['sessions', 'revoke-user', 'u1', 'u2'], /unexpected argument "u2"/],
      [['sessions', 'list', '--store', `sqlite:${db}`, '--limit', '0'], /--limit must be a whole number from 1 to 1000/],
      [['sessions', 'list', '--store', `sqlite:${db}`, '--active-since', 'yesterday'], /--active-since takes a duration/],
      [['sessions', 'list', '--store', `sqlite:${db}`, '--all', '--cursor', 'x'], /leave out --cursor/],
      [['keygen', 'extra'], /unexpected argument/],
    ];
    for (const [args, message] of cases) {
      const run = await tessera(args);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, message, args.join(' '));
      assert.match(run.stderr, /Run 'tessera .+ --help' for its usage/);
    }
  });

  it('exits with 2 for a missing, unknown or malformed store URL, and reads TESSERA_STORE', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['stats'], {}, /no store given: pass --store <url> or set TESSERA_STORE/],
      [['stats', '--store', 'mysql://db/app'], {}, /unknown scheme "mysql:"/],
      [['stats', '--store', 'sqlite:x.db?tabel=s'], {}, /unknown parameter tabel \(a sqlite store URL takes table\)/],
      [['stats', '--store', 'postgres://u:hunter2@127.0.0.1:1/db?prefix=x'], {}, /unknown parameter prefix/],
      [['stats', '--store', 'redis://127.0.0.1:1?table=x'], {}, /unknown parameter table \(a redis store URL takes prefix, timeout\)/],
      [['stats', '--store', 'sqlite:/nowhere/sessions.db'], {}, /no SQLite database at \/nowhere\/sessions\.db/],
      [['stats', '--store', 'file:/nowhere/sessions'], {}, /no store folder at \/nowhere\/sessions/],
      [['stats'], { TESSERA_STORE: 'mysql://db' }, /unknown scheme "mysql:"/],
    ];
    for (const [args, env, message] of cases) {
      const run = await tessera(args, env);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, message, args.join(' '));
      assert.doesNotMatch(run.stderr, /hunter2/, 'no password in messages');
    }
    const db = tempPath('env.db');
    assert.equal((await tessera(['migrate', '--store', `sqlite:${db}`])).code, 0);
    const fromEnv = await tessera(['stats'], { TESSERA_STORE: `sqlite:${db}` });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.match(fromEnv.stdout, /^sessions\s+0$/m);
  });

  it('exits with 1, quickly, when the store is unreachable', async () => {
    for (const store of ['postgres://root@127.0.0.1:1/test', 'redis://127.0.0.1:1?timeout=500']) {
      const started = Date.now();
      const run = await tessera(['stats', '--store', store]);
      assert.equal(run.code, 1, `${store}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`^tessera: cannot reach the store ${store.replace(/[?.]/g, '\\$&')}`));
      assert.ok(Date.now() - started < 10_000, `${store} failed in ${Date.now() - started} ms`);
    }
  });
});
