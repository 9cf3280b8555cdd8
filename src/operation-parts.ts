/**
 * What the operations outside a request share: the manager's parts they work on
 * ({@link OperationParts}), the tenant option they take ({@link ByIdOptions}) and its check
 * ({@link tenantOf}). Used by `user-operations.ts` and `operations.ts`.
 *
 * @module
 */
import type { ValidAfter } from './auth/valid-after.js';
import type { Backend } from './core/backend.js';
import type { Lifecycle } from './core/lifecycle.js';
import type { Policy } from './core/policy.js';
import type { SignedCookies } from './core/signed.js';
import { TenantError } from './errors.js';

/**
 * Options of the by-ID operations.
 *
 * @example
 * ```ts
 * await tessera.get(id, 'cart', { tenant: 'acme' } satisfies ByIdOptions);
 * ```
 */
export interface ByIdOptions {
  /** The tenant the session belongs to. */
  tenant?: string | null;
}

/**
 * What the operations work on: the manager's parts, given by {@link Tessera} when it is made.
 *
 * @example
 * ```ts
 * this.parts = { backend, signed, lifecycle, policy, validAfter, assertOpen: () => this.#assertOpen() };
 * ```
 */
export interface OperationParts {
  readonly backend: Backend;
  readonly signed: SignedCookies;
  readonly lifecycle: Lifecycle;
  readonly policy: Policy;
  /** Users' "sign out everywhere" times; `null` without a place to keep them. */
  readonly validAfter: ValidAfter | null;
  readonly assertOpen: () => void;
}

/**
 * The tenant an operation by ID names: `null` for none. An empty name is refused, never taken as
 * "no tenant" (it would reach the sessions without one).
 *
 * @throws {@link TenantError} for an empty tenant name.
 * @example
 * ```ts
 * const state = await this.parts.backend.openById(id, tenantOf(options));
 * ```
 */
export function tenantOf(options: { readonly tenant?: string | null } | undefined): string | null {
  const tenant = options?.tenant ?? null;
  if (tenant === '') throw new TenantError('the tenant name is empty: pass null (or leave it out) for sessions without a tenant');
  return tenant;
}
