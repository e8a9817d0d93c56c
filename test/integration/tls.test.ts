/**
 * TLS on the gateway's own listeners (docs/tls.md), over real TLS sockets with certificates
 * made for the run (test/helpers/tls.ts): handshakes that must fail (untrusted CA, wrong
 * name, old protocol versions), plain HTTP sent to the TLS port, client certificates
 * (missing, expired, from another CA, valid) on routes that require them, the subject passed
 * upstream and logged, the admin listener, and certificate reload without dropping connections.
 */
import { once } from 'node:events';
import { copyFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { createLogger } from '../../src/server/logging';
import { expectProblem, parseRaw, rawRequest, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { createTestPki, fingerprintOf, httpsRequest, type TestPki } from '../helpers/tls';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

describe('TLS on the gateway listeners', () => {
  let pki: TestPki;
  let upstream: ControlledUpstream;

  beforeAll(async () => {
    pki = createTestPki();
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await upstream.close();
    pki.remove();
  });
  beforeEach(() => upstream.reset());

  const routes = (): Record<string, unknown> => ({
    upstreams: { backend: { url: upstream.url } },
    routes: [
      { path: '/secure', upstream: 'backend', clientCert: 'required' },
      { path: '/open', upstream: 'backend' },
    ],
  });

  describe('traffic listener with a server certificate', () => {
    let gateway: StartedGateway;
    beforeAll(async () => {
      gateway = await startGateway({ ...routes(), routes: [{ path: '/open', upstream: 'backend' }], listen: { tls: { cert: pki.server.certPath, key: pki.server.keyPath } } });
    });
    afterAll(() => gateway.close());

    test('serves routes over HTTPS (TLS 1.3 by default) and tells the upstream X-Forwarded-Proto: https', async () => {
      expect(gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const reply = await httpsRequest(gateway.url, '/open/x', { ca: pki.ca, headers: { 'X-Forwarded-Proto': 'http' } });
      expect(reply.error).toBeUndefined();
      expect(reply.status).toBe(200);
      expect(reply.protocol).toBe('TLSv1.3');
      expect(reply.fingerprint256).toBe(fingerprintOf(pki.server));
      expect(upstream.received).toHaveLength(1);
      expect(upstream.received[0]?.headers['x-forwarded-proto']).toBe('https');
    });

    test('a caller that does not trust the issuing CA fails the handshake, and nothing reaches the upstream', async () => {
      const reply = await httpsRequest(gateway.url, '/open/x', { ca: pki.otherCa });
      expect(reply.status).toBe(0);
      expect(reply.error).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      const noCa = await httpsRequest(gateway.url, '/open/x', {});
      expect(noCa.error).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      expect(upstream.received).toHaveLength(0);
    });

    test('SNI: the certificate is checked against the name the caller asks for; a name it does not cover fails the handshake', async () => {
      const byName = await httpsRequest(gateway.url, '/open/x', { ca: pki.ca, servername: 'localhost' });
      expect(byName.status).toBe(200);
      // No SNI at all (an IP address): the certificate's IP:127.0.0.1 entry is what is checked.
      const byAddress = await httpsRequest(gateway.url, '/open/x', { ca: pki.ca, servername: null });
      expect(byAddress.status).toBe(200);
      const wrongName = await httpsRequest(gateway.url, '/open/x', { ca: pki.ca, servername: 'bank.example' });
      expect(wrongName.status).toBe(0);
      expect(wrongName.error).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
      expect(upstream.received).toHaveLength(2);
    });

    test('TLS 1.2 is accepted; TLS 1.1 and 1.0 are refused at the handshake (minVersion TLSv1.2 by default)', async () => {
      const tls12 = await httpsRequest(gateway.url, '/open/x', { ca: pki.ca, maxVersion: 'TLSv1.2' });
      expect(tls12.status).toBe(200);
      expect(tls12.protocol).toBe('TLSv1.2');
      // The control: this machine's OpenSSL still speaks TLS 1.1 when a server allows it, so the
      // refusal below is the gateway's and not a client unable to offer it.
      const old = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
      const permissive = tls.createServer({ cert: pki.server.cert, key: pki.server.key, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (s) => s.end());
      permissive.listen(0, '127.0.0.1');
      await once(permissive, 'listening');
      const control = await new Promise<string>((resolve) => {
        const socket = tls.connect({ port: (permissive.address() as net.AddressInfo).port, host: '127.0.0.1', ca: pki.ca, servername: 'localhost', ...old }, () => {
          resolve(socket.getProtocol() ?? '');
          socket.destroy();
        });
        socket.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
      });
      permissive.close();
      expect(control).toBe('TLSv1.1');
      for (const version of ['TLSv1', 'TLSv1.1'] as const) {
        const reply = await httpsRequest(gateway.url, '/open/x', { ca: pki.ca, ...old, maxVersion: version });
        expect(reply.status).toBe(0);
        expect(reply.errorMessage).toMatch(/alert protocol version/);
      }
      expect(upstream.received).toHaveLength(1);
    });

    test('a plain-HTTP request to the TLS port is answered with 400 INVALID_REQUEST in plain HTTP, and the connection closes', async () => {
      const text = await rawRequest(gateway.url, 'GET /open/x?secret=1 HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const res = parseRaw(text);
      const body = expectProblem({ status: res.status, headers: res.headers, body: res.body }, { status: 400, code: 'INVALID_REQUEST', forwarded: false, retryable: false });
      expect(body.detail).toMatch(/HTTPS only.*https:\/\//);
      expect(body.instance).toBe('/open/x');
      expect(res.headers.connection).toBe('close');
      expect(upstream.received).toHaveLength(0);
    });

    test('inside TLS, a smuggling attempt still gets its 400 problem (the HTTP checks hold on either transport)', async () => {
      const text = await new Promise<string>((resolve) => {
        const socket = tls.connect({ port: Number(new URL(gateway.url).port), host: '127.0.0.1', ca: pki.ca, servername: 'localhost' }, () => {
          socket.write('POST /open/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
        });
        let got = '';
        socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
        socket.on('close', () => resolve(got));
        socket.on('error', () => resolve(got));
        setTimeout(() => socket.destroy(), 3000);
      });
      const res = parseRaw(text);
      expectProblem(res, { status: 400, code: 'INVALID_REQUEST', forwarded: false, retryable: false });
      expect(upstream.received).toHaveLength(0);
    });

    test('bytes that are neither TLS nor HTTP get the connection closed without an answer', async () => {
      const text = await rawRequest(gateway.url, '\u0000\u0001garbage\r\n\r\n', { timeoutMs: 2000 });
      expect(text).toBe('');
      expect(upstream.received).toHaveLength(0);
    });

    test('a connection that sends nothing does not stop others from being served', async () => {
      const idle = net.connect(Number(new URL(gateway.url).port), '127.0.0.1');
      await once(idle, 'connect');
      const reply = await httpsRequest(gateway.url, '/open/x', { ca: pki.ca });
      expect(reply.status).toBe(200);
      idle.destroy();
    });
  });

  test('minVersion TLSv1.3 refuses a TLS 1.2 caller at the handshake', async () => {
    const gateway = await startGateway({ ...routes(), routes: [{ path: '/open', upstream: 'backend' }], listen: { tls: { cert: pki.server.certPath, key: pki.server.keyPath, minVersion: 'TLSv1.3' } } });
    try {
      const refused = await httpsRequest(gateway.url, '/open/x', { ca: pki.ca, maxVersion: 'TLSv1.2' });
      expect(refused.status).toBe(0);
      expect(refused.errorMessage).toMatch(/alert protocol version/);
      const ok = await httpsRequest(gateway.url, '/open/x', { ca: pki.ca });
      expect(ok.protocol).toBe('TLSv1.3');
      expect(upstream.received).toHaveLength(1);
    } finally {
      await gateway.close();
    }
  });

  test('closing at once also ends connections still in their handshake or before their first byte', async () => {
    const gateway = await startGateway({ ...routes(), routes: [{ path: '/open', upstream: 'backend' }], listen: { tls: { cert: pki.server.certPath, key: pki.server.keyPath } } });
    const port = Number(new URL(gateway.url).port);
    const silent = net.connect(port, '127.0.0.1');
    const halfHandshake = net.connect(port, '127.0.0.1', () => halfHandshake.write(Buffer.from([0x16, 0x03, 0x01])));
    await Promise.all([once(silent, 'connect'), once(halfHandshake, 'connect')]);
    await new Promise((r) => setTimeout(r, 50));
    const closed = Promise.all([once(silent, 'close'), once(halfHandshake, 'close')]);
    silent.on('error', () => undefined);
    halfHandshake.on('error', () => undefined);
    const started = Date.now();
    await gateway.close();
    await closed;
    // Without this, close() would wait for the 10 s handshake timeout.
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('a handshake that never finishes, and a connection that sends nothing, are closed after listen.headersTimeoutMs', async () => {
    const gateway = await startGateway({ ...routes(), routes: [{ path: '/open', upstream: 'backend' }], listen: { headersTimeoutMs: 1000, tls: { cert: pki.server.certPath, key: pki.server.keyPath } } });
    try {
      const port = Number(new URL(gateway.url).port);
      const started = Date.now();
      const closedAfter = (socket: net.Socket): Promise<number> => new Promise((resolve) => {
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(Date.now() - started));
      });
      const silent = net.connect(port, '127.0.0.1');
      const half = net.connect(port, '127.0.0.1', () => half.write(Buffer.from([0x16, 0x03, 0x01])));
      const deadline = new Promise<number>((resolve) => setTimeout(() => resolve(-1), 6000));
      const [silentMs, halfMs] = await Promise.all([Promise.race([closedAfter(silent), deadline]), Promise.race([closedAfter(half), deadline])]);
      silent.destroy();
      half.destroy();
      for (const ms of [silentMs, halfMs]) {
        expect(ms).toBeGreaterThanOrEqual(900);
        expect(ms).toBeLessThan(5000);
      }
    } finally {
      await gateway.close();
    }
  });

  test('inside TLS, headers sent too slowly get 408 REQUEST_TIMEOUT within about a second of listen.headersTimeoutMs', async () => {
    const gateway = await startGateway({ ...routes(), routes: [{ path: '/open', upstream: 'backend' }], listen: { headersTimeoutMs: 1000, tls: { cert: pki.server.certPath, key: pki.server.keyPath } } });
    try {
      const started = Date.now();
      const { text, ms } = await new Promise<{ text: string; ms: number }>((resolve) => {
        let got = '';
        const socket = tls.connect({ port: Number(new URL(gateway.url).port), host: '127.0.0.1', ca: pki.ca, servername: 'localhost' }, () => socket.write('GET /open/x HTTP/1.1\r\nHost: localhost\r\n'));
        socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
        socket.on('close', () => resolve({ text: got, ms: Date.now() - started }));
        socket.on('error', () => undefined);
        setTimeout(() => socket.destroy(), 6000);
      });
      expectProblem(parseRaw(text), { status: 408, code: 'REQUEST_TIMEOUT', forwarded: false, retryable: false });
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(4000);
      expect(upstream.received).toHaveLength(0);
    } finally {
      await gateway.close();
    }
  });

  describe('client certificates (requestCert, clientCert: required)', () => {
    let gateway: StartedGateway;
    const lines: Record<string, unknown>[] = [];
    beforeAll(async () => {
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      });
      gateway = await startGateway(
        { ...routes(), listen: { tls: { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.caPath, requestCert: true, clientCertHeader: 'X-Client-Cert-Subject' } } },
        { logger: createLogger('info', sink) },
      );
    });
    afterAll(() => gateway.close());

    const lineOf = async (requestId: string): Promise<Record<string, unknown>> => {
      await waitFor(() => lines.some((l) => l.requestId === requestId), 2000, 'the request log line');
      return lines.find((l) => l.requestId === requestId) as Record<string, unknown>;
    };

    test('without a certificate: 403 CLIENT_CERT_REQUIRED, and not a byte reaches the upstream (a body neither)', async () => {
      const connections = upstream.connections;
      const get = await httpsRequest(gateway.url, '/secure/loans/7', { ca: pki.ca });
      const problem = expectProblem(get, { status: 403, code: 'CLIENT_CERT_REQUIRED', forwarded: false, retryable: false, upstream: 'backend' });
      expect(problem.detail).toMatch(/no client certificate was presented/);
      const post = await httpsRequest(gateway.url, '/secure/loans', { ca: pki.ca, method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"amount":1}' });
      expectProblem(post, { status: 403, code: 'CLIENT_CERT_REQUIRED', forwarded: false, retryable: false });
      expect(upstream.received).toHaveLength(0);
      expect(upstream.connections).toBe(connections);
      expect(await lineOf(problem.requestId as string)).toMatchObject({ code: 'CLIENT_CERT_REQUIRED', clientCert: null, res: { status: 403 } });
    });

    test('an expired certificate from the trusted CA is refused, and the problem says why', async () => {
      const reply = await httpsRequest(gateway.url, '/secure/x', { ca: pki.ca, cert: pki.expiredClient });
      const problem = expectProblem(reply, { status: 403, code: 'CLIENT_CERT_REQUIRED', forwarded: false, retryable: false });
      expect(problem.detail).toMatch(/not accepted: it has expired/);
      expect(upstream.received).toHaveLength(0);
    });

    test('a certificate from another CA, or a self-signed one, is refused', async () => {
      const reply = await httpsRequest(gateway.url, '/secure/x', { ca: pki.ca, cert: pki.strangerClient });
      const problem = expectProblem(reply, { status: 403, code: 'CLIENT_CERT_REQUIRED', forwarded: false, retryable: false });
      expect(problem.detail).toMatch(/not accepted: it is not issued by a CA this gateway trusts/);
      const selfMade = await httpsRequest(gateway.url, '/secure/x', { ca: pki.ca, cert: pki.selfSignedClient });
      const selfProblem = expectProblem(selfMade, { status: 403, code: 'CLIENT_CERT_REQUIRED', forwarded: false, retryable: false });
      expect(selfProblem.detail).toMatch(/not accepted: it is self-signed/);
      expect(upstream.received).toHaveLength(0);
    });

    test('a valid certificate passes; the upstream gets its verified subject, never the caller\'s own copy; the log line names it', async () => {
      const reply = await httpsRequest(gateway.url, '/secure/x', { ca: pki.ca, cert: pki.client, headers: { 'X-Client-Cert-Subject': 'CN=admin,O=Bank' } });
      expect(reply.status).toBe(200);
      expect(upstream.received).toHaveLength(1);
      expect(upstream.received[0]?.headers['x-client-cert-subject']).toBe('CN=loan-system,O=Capitex Test');
      const line = await lineOf(reply.headers['x-request-id'] as string);
      expect(line).toMatchObject({ route: '/secure', clientCert: 'CN=loan-system,O=Capitex Test', res: { status: 200 } });
    });

    test('a caller cannot have the gateway\'s subject header stripped by naming it in Connection', async () => {
      const reply = await httpsRequest(gateway.url, '/secure/x', { ca: pki.ca, cert: pki.client, headers: { Connection: 'keep-alive, X-Client-Cert-Subject', 'X-Client-Cert-Subject': 'CN=admin' } });
      expect(reply.status).toBe(200);
      expect(upstream.received[0]?.headers['x-client-cert-subject']).toBe('CN=loan-system,O=Capitex Test');
    });

    test('a route without clientCert: required serves callers without one, and strips a subject header they made up', async () => {
      const none = await httpsRequest(gateway.url, '/open/x', { ca: pki.ca, headers: { 'X-Client-Cert-Subject': 'CN=admin,O=Bank' } });
      expect(none.status).toBe(200);
      const expired = await httpsRequest(gateway.url, '/open/x', { ca: pki.ca, cert: pki.expiredClient, headers: { 'x-client-cert-subject': 'CN=admin' } });
      expect(expired.status).toBe(200);
      expect(upstream.received).toHaveLength(2);
      for (const r of upstream.received) expect(r.headers['x-client-cert-subject']).toBeUndefined();
      expect(await lineOf(none.headers['x-request-id'] as string)).toMatchObject({ clientCert: null, res: { status: 200 } });
    });

    test('many requests on one keep-alive connection keep the same identity', async () => {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const replies = [];
        for (let i = 0; i < 3; i++) replies.push(await httpsRequest(gateway.url, '/secure/x', { ca: pki.ca, cert: pki.client, agent }));
        expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
        expect(replies.map((r) => r.reusedSocket)).toEqual([false, true, true]);
        expect(upstream.received.map((r) => r.headers['x-client-cert-subject'])).toEqual(Array(3).fill('CN=loan-system,O=Capitex Test'));
      } finally {
        agent.destroy();
      }
    });
  });

  describe('admin listener (admin.tls)', () => {
    let gateway: StartedGateway;
    const lines: Record<string, unknown>[] = [];
    beforeAll(async () => {
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      });
      gateway = await startGateway({
        ...routes(),
        routes: [{ path: '/open', upstream: 'backend' }],
        admin: { tls: { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.caPath, requestCert: true } },
      }, { logger: createLogger('info', sink) });
    });
    afterAll(() => gateway.close());

    test('speaks HTTPS; with requestCert every endpoint needs a verified client certificate, the dashboard included', async () => {
      expect(gateway.gw.adminUrl).toMatch(/^https:/);
      expect(gateway.url).toMatch(/^http:/);
      const withCert = await httpsRequest(gateway.gw.adminUrl, '/admin/breakers', { ca: pki.ca, cert: pki.client });
      expect(withCert.status).toBe(200);
      expect(withCert.json).toHaveProperty('breakers');
      for (const path of ['/admin/breakers', '/dashboard', '/metrics']) {
        const without = await httpsRequest(gateway.gw.adminUrl, path, { ca: pki.ca });
        expectProblem(without, { status: 403, code: 'CLIENT_CERT_REQUIRED', forwarded: false, retryable: false });
      }
      const stranger = await httpsRequest(gateway.gw.adminUrl, '/admin/breakers', { ca: pki.ca, cert: pki.strangerClient });
      expect(stranger.status).toBe(403);
      // The admin request lines name the verified subject too.
      await waitFor(() => lines.some((l) => l.requestId === withCert.headers['x-request-id']), 2000, 'the admin request line');
      expect(lines.find((l) => l.requestId === withCert.headers['x-request-id'])).toMatchObject({ clientCert: 'CN=loan-system,O=Capitex Test', res: { status: 200 } });
      expect(lines.find((l) => l.requestId === stranger.headers['x-request-id'])).toMatchObject({ clientCert: null, code: 'CLIENT_CERT_REQUIRED' });
    });

    test('with a token too, the certificate is checked first: an operator needs both', async () => {
      const guarded = await startGateway({
        ...routes(),
        routes: [{ path: '/open', upstream: 'backend' }],
        admin: { token: 'op-secret', tls: { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.caPath, requestCert: true } },
      });
      try {
        const auth = { Authorization: 'Bearer op-secret' };
        expectProblem(await httpsRequest(guarded.gw.adminUrl, '/admin/breakers', { ca: pki.ca, headers: auth }), { status: 403, code: 'CLIENT_CERT_REQUIRED', forwarded: false, retryable: false });
        expectProblem(await httpsRequest(guarded.gw.adminUrl, '/admin/breakers', { ca: pki.ca, cert: pki.client }), { status: 401, code: 'UNAUTHORIZED', forwarded: false, retryable: false });
        expect((await httpsRequest(guarded.gw.adminUrl, '/admin/breakers', { ca: pki.ca, cert: pki.client, headers: auth })).status).toBe(200);
      } finally {
        await guarded.close();
      }
    });

    test('plain HTTP to the admin TLS port gets 400 INVALID_REQUEST', async () => {
      const res = parseRaw(await rawRequest(gateway.gw.adminUrl, 'GET /admin/breakers HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'INVALID_REQUEST' });
    });
  });

  describe('certificate reload', () => {
    let gateway: StartedGateway;
    let certPath: string;
    let keyPath: string;
    beforeEach(async () => {
      certPath = pki.write('live.pem', pki.server.cert);
      keyPath = pki.write('live-key.pem', pki.server.key);
      gateway = await startGateway({ ...routes(), routes: [{ path: '/open', upstream: 'backend' }], listen: { tls: { cert: certPath, key: keyPath } }, admin: { tls: { cert: certPath, key: keyPath } } });
    });
    afterEach(() => gateway.close());

    test('new connections get the new certificate; a keep-alive connection opened before goes on serving', async () => {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const before = await httpsRequest(gateway.url, '/open/a', { ca: pki.ca, agent });
        expect(before.fingerprint256).toBe(fingerprintOf(pki.server));
        copyFileSync(pki.serverRenewed.certPath, certPath);
        copyFileSync(pki.serverRenewed.keyPath, keyPath);
        const outcomes = gateway.gw.reloadTls();
        expect(outcomes.map((o) => [o.listener, o.ok])).toEqual([['traffic', true], ['admin', true]]);
        const fresh = await httpsRequest(gateway.url, '/open/b', { ca: pki.ca });
        expect(fresh.fingerprint256).toBe(fingerprintOf(pki.serverRenewed));
        const admin = await httpsRequest(gateway.gw.adminUrl, '/admin/breakers', { ca: pki.ca });
        expect(admin.fingerprint256).toBe(fingerprintOf(pki.serverRenewed));
        const kept = await httpsRequest(gateway.url, '/open/c', { ca: pki.ca, agent });
        expect(kept.status).toBe(200);
        expect(kept.reusedSocket).toBe(true);
        expect(kept.fingerprint256).toBe(fingerprintOf(pki.server));
        expect(upstream.received.map((r) => r.url)).toEqual(['/open/a', '/open/b', '/open/c']);
      } finally {
        agent.destroy();
      }
    });

    test('unusable new files leave the old certificate in place and say which key is wrong', async () => {
      writeFileSync(keyPath, 'not a key');
      const outcomes = gateway.gw.reloadTls();
      expect(outcomes[0]).toMatchObject({ ok: false, listener: 'traffic' });
      expect(outcomes[0]?.ok === false && outcomes[0].issues).toEqual([expect.stringMatching(/^listen\.tls\.key: expected an unencrypted PEM private key/)]);
      copyFileSync(pki.serverRenewed.keyPath, keyPath); // a key that belongs to another certificate
      const mismatch = gateway.gw.reloadTls();
      expect(mismatch[0]?.ok === false && mismatch[0].issues).toEqual(['listen.tls.key: is not the private key of the certificate in listen.tls.cert']);
      const reply = await httpsRequest(gateway.url, '/open/x', { ca: pki.ca });
      expect(reply.status).toBe(200);
      expect(reply.fingerprint256).toBe(fingerprintOf(pki.server));
    });
  });
});
