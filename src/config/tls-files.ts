import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { describeReadFailure } from './read-failure';
import { isObject } from '../core/is-object';

/** The PEM texts a TLS listener is built from, read and checked. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
  /** The listener's own (leaf) certificate, for logging what is being served. */
  readonly leaf: X509Certificate;
}

/** Paths as the configuration names them (`listen.tls` or `admin.tls`). */
export interface TlsPaths {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
}

export type TlsRead = { readonly material: TlsMaterial; readonly issues: readonly [] } | { readonly material: undefined; readonly issues: readonly string[] };

/**
 * Reads a listener's PEM files and checks that they make a working TLS context: a
 * certificate, an unencrypted private key that belongs to it, and CA certificates. Every
 * problem is one `listen.tls.key: …` line, like the rest of the configuration's errors.
 * Relative paths are read from the working directory.
 */
export function readTlsFiles(paths: TlsPaths, at: string): TlsRead {
  const issues: string[] = [];
  const read = (key: 'cert' | 'key' | 'ca'): string | undefined => {
    const file = paths[key];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      issues.push(`${at}.${key}: ${file}: ${describeReadFailure((err as NodeJS.ErrnoException).code ?? 'error')}`);
      return undefined;
    }
  };
  const cert = read('cert');
  const key = read('key');
  const ca = read('ca');
  const leaf = cert === undefined ? undefined : certificateOf(cert);
  if (cert !== undefined && leaf === undefined) issues.push(`${at}.cert: expected a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  const privateKey = key === undefined ? undefined : privateKeyOf(key);
  if (key !== undefined && privateKey === undefined) issues.push(`${at}.key: expected an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)`);
  if (ca !== undefined && certificateOf(ca) === undefined) issues.push(`${at}.ca: expected PEM CA certificates (-----BEGIN CERTIFICATE-----)`);
  if (leaf && privateKey && !leaf.checkPrivateKey(privateKey)) issues.push(`${at}.key: is not the private key of the certificate in ${at}.cert`);
  if (issues.length > 0 || cert === undefined || key === undefined || leaf === undefined) return { material: undefined, issues };
  try {
    // What OpenSSL itself objects to (a chain it cannot load, a key too weak for its security level).
    createSecureContext({ cert, key, ca });
  } catch (err) {
    return { material: undefined, issues: [`${at}: OpenSSL refused these files (${(err as Error).message})`] };
  }
  return { material: { cert, key, ca, leaf }, issues: [] };
}

/**
 * The file checks of a whole raw configuration, for the loader: run beside the schema's own
 * checks, so that a missing key file and a misspelt key elsewhere are reported together.
 * Only string paths are read; anything else is the schema's to report.
 */
export function tlsFileIssues(raw: unknown): string[] {
  if (!isObject(raw)) return [];
  const issues: string[] = [];
  for (const section of ['listen', 'admin'] as const) {
    const tls = isObject(raw[section]) ? (raw[section] as Record<string, unknown>).tls : undefined;
    if (!isObject(tls) || typeof tls.cert !== 'string' || typeof tls.key !== 'string' || tls.cert === '' || tls.key === '') continue;
    const ca = typeof tls.ca === 'string' && tls.ca !== '' ? tls.ca : undefined;
    issues.push(...readTlsFiles({ cert: tls.cert, key: tls.key, ca }, `${section}.tls`).issues);
  }
  return issues;
}

function certificateOf(pem: string): X509Certificate | undefined {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function privateKeyOf(pem: string): KeyObject | undefined {
  try {
    return createPrivateKey(pem);
  } catch {
    return undefined;
  }
}
