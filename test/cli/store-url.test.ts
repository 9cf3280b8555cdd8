import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeStore, parseStoreUrl } from '../../src/cli/store-url.js';
import { ConfigError } from '../../src/errors.js';

describe('parseStoreUrl', () => {
  it('reads each kind of store and its options', () => {
    assert.deepEqual(parseStoreUrl('sqlite:./data/sessions.db'), { kind: 'sqlite', path: './data/sessions.db' });
    assert.deepEqual(parseStoreUrl('sqlite:///var/lib/app/s.db?table=app_sessions'), { kind: 'sqlite', path: '/var/lib/app/s.db', table: 'app_sessions' });
    assert.deepEqual(parseStoreUrl('sqlite:/abs/my%20sessions.db'), { kind: 'sqlite', path: '/abs/my sessions.db' });
    assert.deepEqual(parseStoreUrl('file:data/sessions'), { kind: 'file', dir: 'data/sessions' });
    assert.deepEqual(parseStoreUrl('file:///srv/sessions'), { kind: 'file', dir: '/srv/sessions' });
    assert.deepEqual(parseStoreUrl('postgres://app:pw@db:5432/app?table=sessions&schema=auth&sslmode=require'), {
      kind: 'postgres',
      connectionString: 'postgres://app:pw@db:5432/app?sslmode=require',
      table: 'sessions',
      schema: 'auth',
    });
    assert.deepEqual(parseStoreUrl('postgresql://db/app'), { kind: 'postgres', connectionString: 'postgresql://db/app' });
    assert.deepEqual(parseStoreUrl('redis://127.0.0.1:6379/2?prefix=myapp:sess:&timeout=500'), {
      kind: 'redis',
      url: 'redis://127.0.0.1:6379/2',
      prefix: 'myapp:sess:',
      timeout: 500,
    });
    assert.deepEqual(parseStoreUrl('rediss://cache.example'), { kind: 'redis', url: 'rediss://cache.example' });
  });

  it('refuses what it does not know, with a ConfigError saying what', () => {
    const cases: [string, RegExp][] = [
      ['', /no store given/],
      ['./data/sessions.db', /unknown scheme; use sqlite:<path>/],
      ['mysql://db/app', /unknown scheme "mysql:"/],
      ['sqlite:', /names no file/],
      ['sqlite://host/x.db', /sqlite:\/\/\/<absolute path>/],
      ['sqlite:x.db?table=a&table=b', /table is given twice/],
      ['sqlite:x.db?table=', /table is empty/],
      ['sqlite:x.db?prefix=a', /unknown parameter prefix \(a sqlite store URL takes table\)/],
      ['file:dir?table=a', /a file store URL takes no parameters/],
      ['postgres://db/app?tabel=x&foo=1', /unknown parameters tabel, foo/],
      ['redis://r?timeout=soon', /timeout must be a positive whole number/],
      ['redis://r?db=2', /unknown parameter db \(a redis store URL takes prefix, timeout\)/],
      ['postgres://[bad', /is not a valid URL/],
    ];
    for (const [url, message] of cases) assert.throws(() => parseStoreUrl(url), (e: unknown) => e instanceof ConfigError && message.test(e.message), url);
  });

  it('keeps passwords out of messages, in the query and with an @ in them too', () => {
    assert.equal(describeStore('postgres://app@db/app?password=s3cret&sslmode=require'), 'postgres://app@db/app?password=***&sslmode=require');
    assert.equal(describeStore('postgres://app:p@ss@db/app'), 'postgres://app:***@db/app');
    assert.equal(describeStore('postgres://app:s3cret@[db/app'), 'postgres://***@[db/app', 'a URL that does not parse: the whole user part goes');
  });

  it('keeps passwords out of messages', () => {
    assert.equal(describeStore('postgres://app:s3cret@db/app'), 'postgres://app:***@db/app');
    assert.equal(describeStore('redis://:s3cret@cache:6379'), 'redis://:***@cache:6379');
    assert.throws(() => parseStoreUrl('postgres://app:s3cret@[bad/app'), (e: Error) => !e.message.includes('s3cret'));
  });
});
