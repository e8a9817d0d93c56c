/**
 * `listen.tls` and `admin.tls` (docs/tls.md): validated like every other key (unknown keys,
 * types, one line per offending key), the PEM files they name read and checked at load
 * (unreadable, not PEM, a key of another certificate), and the cross-checks between a
 * listener that asks for client certificates and the routes and header that rely on one.
 */
import { chmodSync } from 'node:fs';
import { parseConfig } from '../../src/config/load';
import { createTestPki, type TestPki } from '../helpers/tls';
import { issuesOf as issuesOfCall } from '../helpers/config-issues';

let pki: TestPki;
beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki.remove());

const base = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  upstreams: { business: { url: 'http://127.0.0.1:9001' } },
  routes: [{ path: '/api/loans', upstream: 'business' }],
  ...extra,
});
const tls = (more: Record<string, unknown> = {}): Record<string, unknown> => ({ cert: pki.server.certPath, key: pki.server.keyPath, ...more });

const issuesOf = (raw: unknown): readonly string[] => issuesOfCall(() => parseConfig(raw));

describe('listen.tls and admin.tls', () => {
  it('parse with their defaults: TLS 1.2 minimum, no client certificates; routes default to clientCert: optional', () => {
    const c = parseConfig(base({ listen: { tls: tls() }, admin: { tls: tls() } }));
    expect(c.listen.tls).toEqual({ cert: pki.server.certPath, key: pki.server.keyPath, requestCert: false, minVersion: 'TLSv1.2' });
    expect(c.admin.tls).toEqual({ cert: pki.server.certPath, key: pki.server.keyPath, requestCert: false, minVersion: 'TLSv1.2' });
    expect(c.routes[0]?.clientCert).toBe('optional');
    expect(Object.isFrozen(c.listen.tls)).toBe(true);
    expect(parseConfig(base()).listen.tls).toBeUndefined();
  });

  it('accept client certificates with a CA, a subject header and required routes', () => {
    const c = parseConfig(base({
      listen: { tls: tls({ ca: pki.caPath, requestCert: true, minVersion: 'TLSv1.3', clientCertHeader: 'X-Client-Cert-Subject' }) },
      routes: [{ path: '/api/loans', upstream: 'business', clientCert: 'required' }],
    }));
    expect(c.listen.tls).toMatchObject({ requestCert: true, minVersion: 'TLSv1.3', clientCertHeader: 'X-Client-Cert-Subject', ca: pki.caPath });
    expect(c.routes[0]?.clientCert).toBe('required');
  });

  it('name unknown keys and wrong types, each on its own line', () => {
    expect(issuesOf(base({ listen: { tls: tls({ certFile: 'x', minVersion: 'TLSv1.1', requestCert: 'yes' }) }, admin: { tls: { cert: 7, clientCertHeader: 'X-Y' } } }))).toEqual(expect.arrayContaining([
      'listen.tls.certFile: unknown key',
      'listen.tls.minVersion: expected one of TLSv1.2, TLSv1.3',
      'listen.tls.requestCert: expected true or false',
      'admin.tls.cert: expected the path of a PEM file',
      'admin.tls.key: required',
      'admin.tls.clientCertHeader: unknown key',
    ]));
    expect(issuesOf(base({ listen: { tls: { key: pki.server.keyPath } } }))).toEqual(['listen.tls.cert: required']);
    expect(issuesOf(base({ routes: [{ path: '/a', upstream: 'business', clientCert: 'yes' }] }))).toEqual(['routes[0].clientCert: expected required or optional']);
  });

  it('refuse a file that cannot be read, naming the key and the file', () => {
    const missing = `${pki.dir}/nope.pem`;
    expect(issuesOf(base({ listen: { tls: tls({ cert: missing }) } }))).toEqual([`listen.tls.cert: ${missing}: cannot read file (ENOENT): no such file`]);
    expect(issuesOf(base({ admin: { tls: tls({ key: pki.dir }) } }))).toEqual([`admin.tls.key: ${pki.dir}: cannot read file (EISDIR): is a directory`]);
    if (process.getuid?.() !== 0) {
      const locked = pki.write('locked.pem', pki.server.key);
      chmodSync(locked, 0o000);
      expect(issuesOf(base({ listen: { tls: tls({ key: locked }) } }))).toEqual([`listen.tls.key: ${locked}: cannot read file (EACCES): permission denied`]);
    }
  });

  it('refuse files that are not what their key says, and a key of another certificate', () => {
    const junk = pki.write('junk.pem', 'hello\n');
    expect(issuesOf(base({ listen: { tls: tls({ cert: junk, key: junk, ca: junk, requestCert: true }) } }))).toEqual([
      'listen.tls.cert: expected a PEM certificate (-----BEGIN CERTIFICATE-----)',
      'listen.tls.key: expected an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)',
      'listen.tls.ca: expected PEM CA certificates (-----BEGIN CERTIFICATE-----)',
    ]);
    // A certificate where the key should be, and the other way round.
    expect(issuesOf(base({ listen: { tls: tls({ cert: pki.server.keyPath, key: pki.server.certPath }) } }))).toEqual([
      'listen.tls.cert: expected a PEM certificate (-----BEGIN CERTIFICATE-----)',
      'listen.tls.key: expected an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)',
    ]);
    expect(issuesOf(base({ listen: { tls: tls({ key: pki.serverRenewed.keyPath }) } }))).toEqual(['listen.tls.key: is not the private key of the certificate in listen.tls.cert']);
  });

  it('report file problems together with the rest of the file\'s problems', () => {
    expect(issuesOf(base({ listen: { port: 'x', tls: tls({ cert: `${pki.dir}/gone.pem` }) } }))).toEqual([
      'listen.port: expected a port number (0-65535)',
      `listen.tls.cert: ${pki.dir}/gone.pem: cannot read file (ENOENT): no such file`,
    ]);
  });

  it('need a CA to verify client certificates against, and a listener that asks for them before a route or header relies on one', () => {
    expect(issuesOf(base({ listen: { tls: tls({ requestCert: true }) }, admin: { tls: tls({ requestCert: true }) } }))).toEqual([
      "listen.tls.ca: required with requestCert: true (callers' certificates are verified against it)",
      "admin.tls.ca: required with requestCert: true (callers' certificates are verified against it)",
    ]);
    expect(issuesOf(base({ listen: { tls: tls({ clientCertHeader: 'X-Client-Cert-Subject' }) }, routes: [{ path: '/a', upstream: 'business', clientCert: 'required' }] }))).toEqual([
      'listen.tls.clientCertHeader: needs listen.tls.requestCert: true',
      'routes[0].clientCert: required needs listen.tls with requestCert: true',
    ]);
    expect(issuesOf(base({ routes: [{ path: '/a', upstream: 'business', clientCert: 'required' }] }))).toEqual(['routes[0].clientCert: required needs listen.tls with requestCert: true']);
  });

  it('keep the subject out of headers the gateway sets, strips or relies on', () => {
    for (const header of ['X-Forwarded-For', 'host', 'Authorization', 'X-Request-Id', 'Connection']) {
      expect(issuesOf(base({ listen: { tls: tls({ ca: pki.caPath, requestCert: true, clientCertHeader: header }) } }))).toEqual([
        'listen.tls.clientCertHeader: expected a header of its own, not one the gateway sets, strips or relies on',
      ]);
    }
    expect(issuesOf(base({ listen: { tls: tls({ ca: pki.caPath, requestCert: true, clientCertHeader: 'X Subject' }) } }))).toEqual([
      'listen.tls.clientCertHeader: expected a header name such as X-Client-Cert-Subject',
    ]);
  });
});
