import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Progress } from '../../src/cli/progress.js';
import { FakeClock } from '../helpers/clock.js';

/** A stream that keeps what is written; a terminal or not. */
function stream(isTTY: boolean): { isTTY: boolean; text: string; write(s: string): void } {
  return { isTTY, text: '', write(s: string) { this.text += s; } };
}

describe('Progress', () => {
  it('draws a bar with the share done on a terminal, redrawn in place, then leaves the line', () => {
    const clock = new FakeClock();
    const out = stream(true);
    const progress = new Progress(out, { label: 'removing expired sessions', total: 200, now: clock.now });
    clock.advance(1_500);
    progress.update(50);
    assert.ok(out.text.endsWith('\r\x1b[2Kremoving expired sessions: [######------------------]  25%  50/200  1.5s'), JSON.stringify(out.text));
    progress.update(60); // within 100 ms: not drawn again
    assert.ok(!out.text.includes('60/200'));
    clock.advance(500);
    progress.finish(200);
    assert.ok(out.text.endsWith('\r\x1b[2Kremoving expired sessions: [########################] 100%  200/200  2.0s done\n'));
    progress.update(10);
    assert.ok(out.text.endsWith('done\n'), 'nothing after finish');
  });

  it('turns a spinner with the count when the total is unknown', () => {
    const clock = new FakeClock();
    const out = stream(true);
    const progress = new Progress(out, { label: 'counting sessions', total: null, now: clock.now });
    clock.advance(200);
    progress.update(500);
    assert.match(out.text, /\r\x1b\[2K⠙ counting sessions: 500 {2}0\.2s$/);
    progress.finish(900);
    assert.ok(out.text.endsWith('counting sessions: 900  0.2s done\n'));
  });

  it('writes plain lines now and then when not on a terminal, and one at the end', () => {
    const clock = new FakeClock();
    const out = stream(false);
    const progress = new Progress(out, { label: 'removing expired sessions', total: 1_000, now: clock.now, lineEvery: 1_000 });
    assert.equal(out.text, '', 'nothing drawn at the start');
    progress.update(100);
    clock.advance(400);
    progress.update(300);
    clock.advance(700);
    progress.update(600);
    progress.finish(1_000);
    assert.deepEqual(out.text.split('\n'), [
      'removing expired sessions:  10%  100/1000  0.0s',
      'removing expired sessions:  60%  600/1000  1.1s',
      'removing expired sessions: 100%  1000/1000  1.1s done',
      '',
    ]);
  });

  it('clears its line when the run fails', () => {
    const out = stream(true);
    const progress = new Progress(out, { label: 'x', total: 10 });
    progress.abort();
    assert.ok(out.text.endsWith('\r\x1b[2K'));
    progress.finish(10);
    assert.ok(!out.text.includes('done'));
  });
});
