/**
 * A server-sent events client for tests: opens a stream with node:http, parses its messages, and
 * lets a test wait for the next one of a kind.
 */
import { request, type IncomingMessage } from 'node:http';
import { request as requestTls } from 'node:https';

export interface SseMessage {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

export class SseClient {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  closed = false;
  #buffer = '';
  #waiters: (() => void)[] = [];
  #seen = 0;

  private constructor(
    readonly status: number,
    readonly header: (name: string) => string | string[] | undefined,
    feed: (chunk: (text: string) => void, done: () => void) => void,
    readonly destroy: () => void,
  ) {
    feed(
      (chunk) => {
        this.#buffer += chunk;
        let end: number;
        while ((end = this.#buffer.indexOf('\n\n')) !== -1) {
          this.#parse(this.#buffer.slice(0, end));
          this.#buffer = this.#buffer.slice(end + 2);
        }
        this.#wake();
      },
      () => {
        this.closed = true;
        this.#wake();
      },
    );
  }

  /** Open `url` (GET, with `headers`; `ca`: the certificate an `https:` server's must chain to); resolves with the client once the head arrived. */
  static open(url: string, headers: Record<string, string> = {}, tls: { ca?: string } = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const options = { headers: { accept: 'text/event-stream', ...headers } };
      const onResponse = (res: IncomingMessage) => resolve(SseClient.#ofIncoming(res, () => req.destroy()));
      const req = url.startsWith('https:') ? requestTls(url, { ...options, ca: tls.ca }, onResponse) : request(url, options, onResponse);
      req.on('error', reject);
      req.end();
    });
  }

  static #ofIncoming(res: IncomingMessage, destroy: () => void): SseClient {
    return new SseClient(
      res.statusCode ?? 0,
      (name) => res.headers[name],
      (chunk, done) => {
        res.setEncoding('utf8');
        res.on('data', chunk);
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
      destroy,
    );
  }

  /** Read a Web `Response` (Hono's `app.request`, `fetch`) as a stream. */
  static ofResponse(res: Response): SseClient {
    const reader = res.body?.getReader();
    return new SseClient(
      res.status,
      (name) => (name === 'set-cookie' ? res.headers.getSetCookie() : (res.headers.get(name) ?? undefined)),
      (chunk, done) => {
        if (reader === undefined) return done();
        const decoder = new TextDecoder();
        const pump = (): void => {
          reader.read().then(
            ({ done: finished, value }) => {
              if (finished) return done();
              chunk(decoder.decode(value, { stream: true }));
              pump();
            },
            () => done(),
          );
        };
        pump();
      },
      () => void reader?.cancel().catch(() => {}),
    );
  }

  #parse(block: string): void {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) this.messages.push({ id, event, data: data.join('\n') });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** The next message not yet taken (of type `event`, when given); rejects after `ms`. */
  async next(event?: string, ms = 3_000): Promise<SseMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.#seen < this.messages.length) {
        const m = this.messages[this.#seen++]!;
        if (event === undefined || m.event === event) return m;
      }
      if (this.closed) throw new Error(`stream closed before ${event ?? 'a message'} came`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${event ?? 'message'} within ${ms} ms (got ${JSON.stringify(this.messages.map((m) => m.event))})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves when the server ended the stream. */
  async ended(ms = 3_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the stream is still open');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Nothing more arrives within `ms` (for "this tab got nothing"). */
  async quiet(ms = 200): Promise<void> {
    const before = this.messages.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (this.messages.length !== before) throw new Error(`unexpected ${JSON.stringify(this.messages.slice(before))}`);
  }

  close(): void {
    this.destroy();
  }
}
