/**
 * Throw-away certificates for the TLS tests, made with the `openssl` CLI in a temporary
 * directory when a test asks for them (nothing private is committed). One call builds a
 * small PKI: a CA, a server certificate for localhost/127.0.0.1, client certificates
 * (good, expired, from another CA) and a second server certificate for reload tests.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import type http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A key and certificate on disk (paths) and in memory (PEM text). */
export interface CertFiles {
  certPath: string;
  keyPath: string;
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** The CA that signed `server`, `serverRenewed`, `client` and `expiredClient`. */
  caPath: string;
  ca: string;
  /** A second, unrelated CA and what it signed: trusted by nobody in the tests. */
  otherCaPath: string;
  otherCa: string;
  /** CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1. */
  server: CertFiles;
  /** Same names as `server`, another key and serial: what a renewed certificate looks like. */
  serverRenewed: CertFiles;
  /** CN=loan-system, O=Capitex Test, signed by the CA. */
  client: CertFiles;
  /** Signed by the CA, but its validity ended in 2021. */
  expiredClient: CertFiles;
  /** CN=intruder, signed by the other CA. */
  strangerClient: CertFiles;
  /** CN=self-made, self-signed. */
  selfSignedClient: CertFiles;
  /** Writes `text` to a file in the PKI's directory and returns its path. */
  write(name: string, text: string): string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Builds the PKI. EC P-256 keys keep it fast (well under a second on a loaded machine).
 * The expired certificate is issued with `openssl ca`, the one OpenSSL 3.0 command that
 * takes explicit start and end dates.
 */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'breakwater-tls-'));
  const p = (name: string): string => path.join(dir, name);
  const ecKey = (name: string): void => openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name]);
  const makeCa = (name: string, cn: string): void => {
    ecKey(`${name}-key.pem`);
    openssl(dir, ['req', '-x509', '-new', '-key', `${name}-key.pem`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  };
  const issue = (name: string, ca: string, subj: string, ext: string): void => {
    ecKey(`${name}-key.pem`);
    writeFileSync(p(`${name}.ext`), ext);
    openssl(dir, ['req', '-new', '-key', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', subj]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial',
      '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  const serverExt = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n';
  const clientExt = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';

  makeCa('ca', 'Breakwater Test CA (generated)');
  makeCa('other-ca', 'Some Other CA (generated)');
  issue('server', 'ca', '/CN=localhost', serverExt);
  issue('server-renewed', 'ca', '/CN=localhost', serverExt);
  issue('client', 'ca', '/O=Capitex Test/CN=loan-system', clientExt);
  issue('stranger', 'other-ca', '/CN=intruder', clientExt);
  ecKey('self-made-key.pem');
  openssl(dir, ['req', '-x509', '-new', '-key', 'self-made-key.pem', '-out', 'self-made.pem', '-days', '2', '-subj', '/CN=self-made']);

  // `openssl ca` needs a database and a config of its own.
  writeFileSync(p('index.txt'), '');
  writeFileSync(p('ca.cnf'), [
    '[ca]', 'default_ca = test', '[test]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir',
    'certificate = $dir/ca.pem', 'private_key = $dir/ca-key.pem', 'serial = $dir/ca.srl', 'default_md = sha256',
    'policy = any', 'copy_extensions = none', 'unique_subject = no', '[any]', 'commonName = supplied', '[ext]',
    'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth', '',
  ].join('\n'));
  ecKey('expired-key.pem');
  openssl(dir, ['req', '-new', '-key', 'expired-key.pem', '-out', 'expired.csr', '-subj', '/CN=expired-system']);
  openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-extensions', 'ext', '-in', 'expired.csr', '-out', 'expired.pem', '-notext',
    '-startdate', '20200101000000Z', '-enddate', '20210101000000Z']);

  const files = (name: string): CertFiles => ({
    certPath: p(`${name}.pem`),
    keyPath: p(`${name}-key.pem`),
    cert: readFileSync(p(`${name}.pem`), 'utf8'),
    key: readFileSync(p(`${name}-key.pem`), 'utf8'),
  });
  return {
    dir,
    caPath: p('ca.pem'),
    ca: readFileSync(p('ca.pem'), 'utf8'),
    otherCaPath: p('other-ca.pem'),
    otherCa: readFileSync(p('other-ca.pem'), 'utf8'),
    server: files('server'),
    serverRenewed: files('server-renewed'),
    client: files('client'),
    expiredClient: files('expired'),
    strangerClient: files('stranger'),
    selfSignedClient: files('self-made'),
    write: (name, text) => {
      writeFileSync(p(name), text);
      return p(name);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsReply {
  /** 0 when no response arrived. */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown> | undefined;
  /** The client's error code when the exchange failed (a handshake refused, a certificate not trusted). */
  error: string | undefined;
  /** The error's message (OpenSSL's reason, e.g. `tlsv1 alert protocol version`, is only there). */
  errorMessage: string | undefined;
  /** The negotiated protocol ('TLSv1.3') and the server certificate's SHA-256 fingerprint. */
  protocol: string | null;
  fingerprint256: string | undefined;
  /** Whether the request went out on a connection an earlier request had opened (keep-alive). */
  reusedSocket: boolean;
}

export interface TlsRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** CA the client trusts (PEM text); default: none, so pass the PKI's `ca`. */
  ca?: string;
  /** The client's own certificate and key (PEM text). */
  cert?: CertFiles;
  /** SNI name sent and checked; default 'localhost'. `null`: none sent, the certificate is checked against the IP. */
  servername?: string | null;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  ciphers?: string;
  /** A keep-alive agent to share a connection between requests; default: a fresh connection. */
  agent?: https.Agent;
  timeoutMs?: number;
}

/** One HTTPS request over a real TLS socket. Never rejects: a failed handshake comes back as `error`. */
export function httpsRequest(base: string, path: string, options: TlsRequestOptions = {}): Promise<TlsReply> {
  return new Promise((resolve) => {
    const reply: TlsReply = { status: 0, headers: {}, body: '', json: undefined, error: undefined, errorMessage: undefined, protocol: null, fingerprint256: undefined, reusedSocket: false };
    let settled = false;
    const chunks: Buffer[] = [];
    const settle = (error?: string, message?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reply.error = error;
      reply.errorMessage = message ?? error;
      reply.body = Buffer.concat(chunks).toString('utf8');
      try {
        reply.json = reply.body ? (JSON.parse(reply.body) as Record<string, unknown>) : undefined;
      } catch {
        reply.json = undefined;
      }
      resolve(reply);
    };
    const servername = options.servername === undefined ? 'localhost' : options.servername;
    const req = https.request(new URL(path, base), {
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: options.agent ?? false,
      ca: options.ca,
      cert: options.cert?.cert,
      key: options.cert?.key,
      minVersion: options.minVersion,
      maxVersion: options.maxVersion,
      ciphers: options.ciphers,
      ...(servername === null ? {} : { servername }),
    });
    const timer = setTimeout(() => {
      settle('ETIMEDOUT');
      req.destroy();
    }, options.timeoutMs ?? 5000);
    req.on('response', (res) => {
      const socket = res.socket as tls.TLSSocket;
      reply.status = res.statusCode ?? 0;
      reply.headers = res.headers;
      reply.protocol = socket.getProtocol();
      reply.fingerprint256 = socket.getPeerCertificate().fingerprint256;
      reply.reusedSocket = req.reusedSocket;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => settle());
      res.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
    });
    req.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message, err.message));
    req.end(options.body);
  });
}

/** The SHA-256 fingerprint of a PEM certificate, as TLS sockets report it. */
export function fingerprintOf(files: CertFiles): string {
  return new X509Certificate(files.cert).fingerprint256;
}
