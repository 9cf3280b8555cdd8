import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveLiveOptions } from '../../src/live/options.js';
import { sseBody, sseMessage } from '../../src/live/protocol.js';
import { StreamRegistry } from '../../src/live/registry.js';
import { Tab, type StreamSink } from '../../src/live/tab.js';
import { ConfigError } from '../../src/errors.js';

/** A stream sink that keeps what was written and can pretend its client stopped reading. */
class FakeSink implements StreamSink {
  readonly written: string[] = [];
  unread = 0;
  ended = false;
  closed = false;
  constructor(readonly stalls = false) {}
  write(text: string): boolean {
    this.written.push(text);
    if (this.stalls) this.unread += Buffer.byteLength(text);
    return true;
  }
  buffered(): number {
    return this.unread;
  }
  end(): void {
    this.ended = true;
  }
  close(): void {
    this.closed = true;
  }
  events(): string[] {
    return this.written.filter((w) => w.startsWith('id: ')).map((w) => JSON.parse(w.slice(w.indexOf('data: ') + 6)).html as string);
  }
}

const options = resolveLiveOptions({ replay: 3, maxBuffered: 1_024, maxTabsPerSession: 2 })!;
const html = (n: number) => ({ type: 'html', target: '#x', html: String(n) }) as const;
const message = (n: number) => sseMessage(`hub.${n}`, sseBody(html(n)));

describe('Tab', () => {
  it('keeps the last `replay` events and replays those after Last-Event-ID, in order', () => {
    const tab = new Tab('tab-0000001', options);
    const first = new FakeSink();
    tab.attach(first, null, {});
    for (let n = 1; n <= 5; n++) tab.send(message(n), 0);
    assert.deepEqual(first.events(), ['1', '2', '3', '4', '5']);
    assert.ok(tab.detach(first, 0));
    const again = new FakeSink();
    tab.attach(again, 3, {});
    assert.deepEqual(again.events(), ['4', '5']);
    const late = new FakeSink();
    tab.attach(late, 1, {}); // 2 fell out of the buffer: what is kept (3, 4, 5) comes
    assert.deepEqual(late.events(), ['3', '4', '5']);
    assert.ok(again.closed, 'a second stream for the same tab replaces the first');
  });

  it('gathers events pushed while it is disconnected, for its reconnect', () => {
    const tab = new Tab('tab-0000002', options);
    const sink = new FakeSink();
    tab.attach(sink, null, {});
    tab.send(message(1), 0);
    tab.detach(sink, 10);
    assert.equal(tab.connected, false);
    tab.send(message(2), 20);
    const back = new FakeSink();
    tab.attach(back, 1, {});
    assert.deepEqual(back.events(), ['2']);
  });

  it('drops a client that stopped reading once maxBuffered bytes wait for it: memory stays bounded', () => {
    const tab = new Tab('tab-0000003', options);
    const sink = new FakeSink(true);
    tab.attach(sink, null, {});
    let n = 0;
    while (!sink.closed && n < 1_000) tab.send(sseMessage(`hub.${++n}`, sseBody({ type: 'html', target: '#x', html: 'y'.repeat(100) })), n);
    assert.ok(sink.closed, 'dropped');
    assert.ok(sink.unread <= 1_024 + 200, `at most the limit and one message waited (${sink.unread})`);
    assert.equal(tab.connected, false);
  });

  it('end tells the reason and finishes the response; drop finishes it silently', () => {
    const tab = new Tab('tab-0000004', options);
    const sink = new FakeSink();
    tab.attach(sink, null, {});
    tab.end('expired');
    assert.match(sink.written.at(-1)!, /^event: end\ndata: \{"reason":"expired"\}\n\n$/);
    assert.ok(sink.ended);
  });
});

describe('StreamRegistry', () => {
  it('counts streams, caps tabs per session (the oldest goes), moves a session to a new handle', () => {
    const registry = new StreamRegistry(options, () => 0, 'hub');
    const sinks = [new FakeSink(), new FakeSink(), new FakeSink()];
    registry.attach('k1', 'tab-aaaaaaa', sinks[0]!, null, 1e15);
    registry.attach('k1', 'tab-bbbbbbb', sinks[1]!, null, 1e15);
    registry.attach('k1', 'tab-ccccccc', sinks[2]!, null, 1e15);
    assert.equal(registry.streams, 2);
    assert.ok(sinks[0]!.ended, 'the oldest tab went');
    registry.apply({ h: 'x', op: 'move', k: 'k1', to: 'k2' });
    assert.equal(registry.streams, 0, 'a move drops the streams: each tab must come back with the new cookie');
    assert.ok(sinks[1]!.ended && sinks[2]!.ended);
    registry.apply({ h: 'x', op: 'session', ks: ['k2'], e: html(7) });
    assert.deepEqual([sinks[1]!.events(), sinks[2]!.events()], [[], []], 'the dropped streams hear nothing more');
    const back = new FakeSink();
    registry.attach('k2', 'tab-bbbbbbb', back, 'hub.0', 1e15);
    assert.deepEqual(back.events(), ['7'], 'the tab, back under the new handle, gets what it missed');
    registry.end('k2', 'destroyed');
    assert.equal(registry.streams, 0);
    assert.equal(registry.sessions, 0);
  });
});

describe('StreamRegistry counts', () => {
  it('a stream dropped for not reading is no longer counted (the count never drifts towards maxStreams)', () => {
    const registry = new StreamRegistry(options, () => 0, 'hub');
    const stalled = new FakeSink(true);
    const reading = new FakeSink();
    registry.attach('k1', 'tab-aaaaaaa', stalled, null, 1e15);
    registry.attach('k2', 'tab-bbbbbbb', reading, null, 1e15);
    assert.equal(registry.streams, 2);
    for (let n = 0; n < 50 && !stalled.closed; n++) registry.apply({ h: 'x', op: 'all', e: { type: 'html', target: '#x', html: 'y'.repeat(100) } });
    assert.ok(stalled.closed);
    assert.equal(registry.streams, 1);
    registry.apply({ h: 'x', op: 'session', ks: ['k1'], e: html(1) });
    assert.equal(registry.streams, 1, 'and not counted again');
  });
});

describe('StreamRegistry event IDs', () => {
  it('replays after an event ID of this process only: another process numbers its own events', () => {
    const registry = new StreamRegistry(options, () => 0, 'hubA');
    const first = new FakeSink();
    const detach = registry.attach('k', 'tab-aaaaaaa', first, null, 1e15);
    registry.apply({ h: 'x', op: 'tab', k: 'k', t: 'tab-aaaaaaa', e: html(1) });
    registry.apply({ h: 'x', op: 'tab', k: 'k', t: 'tab-aaaaaaa', e: html(2) });
    const ids = first.written.filter((w) => w.startsWith('id: ')).map((w) => w.slice(4, w.indexOf('\n')));
    assert.deepEqual(ids, ['hubA.1', 'hubA.2']);
    detach();
    const own = new FakeSink();
    registry.attach('k', 'tab-aaaaaaa', own, 'hubA.1', 1e15);
    assert.deepEqual(own.events(), ['2']);
    const other = new FakeSink();
    registry.attach('k', 'tab-aaaaaaa', other, 'hubB.1', 1e15);
    assert.deepEqual(other.events(), [], "another process's ID replays nothing here");
  });
});

describe('StreamRegistry moves', () => {
  it('a tab that reconnected under the new handle before the move keeps that stream; the old one is let go, counted once', () => {
    const registry = new StreamRegistry(options, () => 0, 'hub');
    const before = new FakeSink();
    const after = new FakeSink();
    registry.attach('old', 'tab-aaaaaaa', before, null, 1e15);
    registry.attach('new', 'tab-aaaaaaa', after, null, 1e15); // the page reconnected with the new cookie first
    assert.equal(registry.streams, 2);
    registry.apply({ h: 'x', op: 'move', k: 'old', to: 'new' });
    assert.equal(registry.streams, 1, 'the stream under the old handle is not counted any more');
    assert.ok(before.ended, 'and was finished');
    registry.apply({ h: 'x', op: 'tab', k: 'new', t: 'tab-aaaaaaa', e: html(9) });
    assert.deepEqual(after.events(), ['9']);
    assert.deepEqual(before.events(), []);
    assert.equal(registry.sessions, 1);
  });
});

describe('StreamRegistry heartbeat', () => {
  it('pings every stream, yielding to the event loop between slices so other work runs meanwhile', async () => {
    const registry = new StreamRegistry(resolveLiveOptions({})!, () => 0, 'hub');
    const sinks = Array.from({ length: 2_500 }, () => new FakeSink());
    sinks.forEach((sink, i) => registry.attach(`key-${i}`, 'tab-aaaaaaa', sink, null, 1e15));
    let ranMeanwhile = false;
    setImmediate(() => (ranMeanwhile = true));
    const due = await registry.sweep();
    assert.deepEqual(due, []);
    assert.ok(ranMeanwhile, 'an immediate queued before the pass ran before it ended');
    assert.ok(sinks.every((sink) => sink.written.at(-1) === ': ping\n\n'), 'every stream pinged');
  });
});

describe('live options', () => {
  it('refuses unknown options and values out of range at start-up', () => {
    assert.equal(resolveLiveOptions(undefined), null);
    assert.equal(resolveLiveOptions(false), null);
    assert.equal(resolveLiveOptions(true)!.path, '/tessera/live');
    assert.throws(() => resolveLiveOptions({ heartbeat: 10 }), ConfigError);
    assert.throws(() => resolveLiveOptions({ path: 'live/' }), ConfigError);
    assert.throws(() => resolveLiveOptions({ path: '/live/' }), ConfigError);
    assert.throws(() => resolveLiveOptions({ replay: -1 }), ConfigError);
    assert.throws(() => resolveLiveOptions({ bogus: 1 } as never), ConfigError);
    assert.throws(() => resolveLiveOptions({ bus: {} as never }), ConfigError);
  });
});

describe('Tab messages', () => {
  it('one message string goes to every tab an event reaches, and is what a reconnect replays', () => {
    const a = new Tab('tab-msg-000001', options);
    const b = new Tab('tab-msg-000002', options);
    const sa = new FakeSink();
    const sb = new FakeSink();
    a.attach(sa, null, {});
    b.attach(sb, null, {});
    const first = sseMessage('hub.7', sseBody({ type: 'reload' }));
    a.send(first, 0); // only a got event 7
    const shared = sseMessage('hub.8', sseBody({ type: 'event', name: 'n', detail: { count: 1 } }));
    a.send(shared, 0);
    b.send(shared, 0);
    assert.equal(sa.written.at(-1), shared);
    assert.equal(sb.written.at(-1), shared);
    a.detach(sa, 0);
    const again = new FakeSink();
    a.attach(again, 6, {});
    assert.deepEqual(again.written.slice(1), [first, shared], 'the replay is what was written, ids included');
  });
});
