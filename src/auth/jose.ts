/**
 * `jose`, loaded on first use with a dynamic `import()`: jose 6 is an ES module only, and tessera's
 * CommonJS build must not `require()` it (Node 20 cannot without `--experimental-require-module`).
 * Only the few calls tessera makes are typed here, so no declaration file of tessera names jose's
 * types (which a CommonJS consumer could not resolve either).
 *
 * @module
 * @internal
 */

/** A key jose signs or verifies with. */
type JoseKey = object;

/** jose's `SignJWT` builder, as tessera uses it. */
export interface JoseSigner {
  setProtectedHeader(header: { alg: string; kid: string; typ: string }): JoseSigner;
  setSubject(sub: string): JoseSigner;
  setIssuedAt(seconds: number): JoseSigner;
  setNotBefore(seconds: number): JoseSigner;
  setExpirationTime(seconds: number): JoseSigner;
  setIssuer(iss: string): JoseSigner;
  setAudience(aud: string): JoseSigner;
  sign(key: JoseKey): Promise<string>;
}

/** The part of jose tessera calls. */
export interface Jose {
  SignJWT: new (payload: Record<string, unknown>) => JoseSigner;
  jwtVerify(
    token: string,
    key: JoseKey,
    options: { algorithms: string[]; issuer?: string; audience?: string; currentDate: Date; clockTolerance: number; requiredClaims: string[] },
  ): Promise<{ payload: Record<string, unknown> }>;
  decodeProtectedHeader(token: string): { alg?: string; kid?: string };
}

let loaded: Promise<Jose> | undefined;

/**
 * jose, imported once.
 *
 * @example
 * ```ts
 * const { jwtVerify } = await jose();
 * ```
 */
export function jose(): Promise<Jose> {
  return (loaded ??= import('jose') as unknown as Promise<Jose>);
}
