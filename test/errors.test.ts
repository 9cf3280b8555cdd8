import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfigError,
  CookieConfigError,
  CsrfError,
  BusUnavailableError,
  LiveError,
  NotSupportedError,
  PayloadTooLargeError,
  SecretError,
  SessionNotFoundError,
  SessionStateError,
  StoreUnavailableError,
  TenantError,
  TesseraError,
  WriteConflictError,
  type TesseraErrorCode,
} from '../src/errors.js';

/** Exhaustive over the union: a code added without a case here, or a case for a code that does not exist, fails `npm run typecheck`. */
function describeCode(code: TesseraErrorCode): string {
  switch (code) {
    case 'ERR_CONFIG':
    case 'ERR_SECRET':
    case 'ERR_COOKIE_CONFIG':
      return 'start-up';
    case 'ERR_SESSION_NOT_FOUND':
    case 'ERR_SESSION_STATE':
    case 'ERR_WRITE_CONFLICT':
    case 'ERR_STORE_UNAVAILABLE':
    case 'ERR_PAYLOAD_TOO_LARGE':
    case 'ERR_NOT_SUPPORTED':
    case 'ERR_TENANT':
      return 'runtime';
    case 'ERR_CSRF':
    case 'ERR_LIVE':
      return 'request';
    case 'ERR_BUS_UNAVAILABLE':
      return 'live';
    default: {
      const unknown: never = code;
      return unknown;
    }
  }
}

describe('typed errors', () => {
  const all: [TesseraError, TesseraErrorCode, number][] = [
    [new ConfigError('x'), 'ERR_CONFIG', 500],
    [new SecretError('x'), 'ERR_SECRET', 500],
    [new CookieConfigError('x'), 'ERR_COOKIE_CONFIG', 500],
    [new SessionNotFoundError(), 'ERR_SESSION_NOT_FOUND', 404],
    [new SessionStateError('x'), 'ERR_SESSION_STATE', 500],
    [new WriteConflictError(3), 'ERR_WRITE_CONFLICT', 503],
    [new StoreUnavailableError('redis', new Error('down')), 'ERR_STORE_UNAVAILABLE', 503],
    [new PayloadTooLargeError('x', 5000, 4096), 'ERR_PAYLOAD_TOO_LARGE', 413],
    [new NotSupportedError('x'), 'ERR_NOT_SUPPORTED', 500],
    [new TenantError('x'), 'ERR_TENANT', 400],
    [new CsrfError('missing-token'), 'ERR_CSRF', 403],
    [new BusUnavailableError('redis down'), 'ERR_BUS_UNAVAILABLE', 503],
    [new LiveError('x'), 'ERR_LIVE', 400],
  ];

  it('each class carries its stable code, its HTTP status and its own name, and is a TesseraError', () => {
    for (const [error, code, status] of all) {
      assert.ok(error instanceof TesseraError && error instanceof Error);
      assert.equal(error.code, code);
      assert.equal(error.status, status);
      assert.equal(error.name, error.constructor.name);
      assert.equal(typeof describeCode(error.code), 'string');
    }
  });

  it('a subclass narrows its code to one literal', () => {
    const error = new StoreUnavailableError('pg');
    const code: 'ERR_STORE_UNAVAILABLE' = error.code;
    assert.equal(code, 'ERR_STORE_UNAVAILABLE');
    // @ts-expect-error: a code that is not in the union does not compile
    const wrong: TesseraErrorCode = 'ERR_NOPE';
    assert.equal(wrong, 'ERR_NOPE');
  });
});
