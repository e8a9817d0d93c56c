import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import { ConfigError } from '../config/load';
import { readTlsFiles, type TlsMaterial } from '../config/tls-files';
import type { TlsSettings } from '../config/types';
import { GatewayError } from '../errors/gateway-error';
import { pathOf } from '../core/request-path';
import { answerOnSocket, type CountRefused } from './client-error';

/** Which of the gateway's listeners, and the configuration key its TLS settings sit under. */
export interface TlsListenerName {
  readonly listener: 'traffic' | 'admin';
  readonly at: 'listen.tls' | 'admin.tls';
}

/** What the listener presents, for the log lines at start and on reload. */
export interface ServedCertificate {
  readonly subject: string;
  readonly validTo: string;
  readonly fingerprint256: string;
}

/** The outcome of one SIGHUP reload: the new certificate, or why the old one stays. */
export type TlsReload =
  | ({ readonly ok: true } & TlsListenerName & ServedCertificate)
  | ({ readonly ok: false; readonly issues: readonly string[] } & TlsListenerName);

export interface HttpsServerOptions {
  name: TlsListenerName;
  settings: TlsSettings;
  /** The listener's HTTP options (timeouts, header limit), as for http.createServer. */
  http: http.ServerOptions;
  /** A TLS handshake, and the wait for a connection's first byte, must end within this. */
  handshakeTimeoutMs: number;
  logger: Logger;
  /** Counts a plain-HTTP request refused on this port (metrics). */
  countRefused?: CountRefused;
}

/** The TLS handshake record type: the first byte of every TLS connection (RFC 8446 §5.1). */
const HANDSHAKE = 0x16;

/**
 * An HTTPS server for one of the gateway's listeners, built from its PEM files (read again
 * here; the loader has checked them already). TLS 1.2 is the lowest version by default.
 * With `requestCert` the caller is asked for a certificate and it is verified against
 * `ca`, but an unverified caller is not refused at the handshake: the route decides
 * (`clientCert: required`), so it gets a problem it can read instead of a TLS alert.
 * A plain-HTTP request sent to this port is answered with 400 INVALID_REQUEST (see
 * answerPlainHttp) rather than Node's silent close.
 */
export class TlsListener {
  readonly server: https.Server;
  /** What new connections are served, as of the start or the last successful reload. */
  certificate: ServedCertificate;
  /**
   * Every raw connection still open. Node's http layer only learns of a connection once its
   * handshake is done, so `closeAllConnections()` cannot reach one that is still in it (or
   * has not sent a byte yet); `destroyPending()` can. A raw socket closes with its TLS socket.
   */
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: HttpsServerOptions, handler: http.RequestListener) {
    const material = readOrThrow(options.settings, options.name.at);
    this.certificate = servedCertificate(material);
    this.server = https.createServer(
      {
        ...options.http,
        ...contextOptions(options.settings, material),
        requestCert: options.settings.requestCert,
        rejectUnauthorized: false,
        handshakeTimeout: options.handshakeTimeoutMs,
      },
      handler,
    );
    this.answerPlainHttp();
    /*
     * https.Server passes a failed handshake on to 'clientError' (and destroys the socket only
     * when nobody listens there). The listener's clientError handler answers HTTP parse errors
     * with a problem; written into a TLS socket whose handshake never finished, that answer
     * would go nowhere and the socket would stay open for good (a handshake that timed out,
     * say). A failed handshake has nobody to answer: it is logged and the socket destroyed.
     */
    this.server.removeAllListeners('tlsClientError');
    this.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
      // Scanners and callers with the wrong CA fail here all day long: worth a debug line, no more.
      options.logger.debug({ event: 'tls-handshake-failed', listener: options.name.listener, code: err.code, reason: err.message, peer: socket.remoteAddress }, 'TLS handshake failed');
      socket.destroy();
    });
  }

  /**
   * SIGHUP: reads the files again and swaps the secure context for new connections
   * (`setSecureContext`); connections already open keep theirs and are not interrupted.
   * Files that do not make a working context leave the old one in place.
   */
  reload(): TlsReload {
    const { settings, name } = this.options;
    const read = readTlsFiles(settings, name.at);
    if (read.material === undefined) return { ok: false, ...name, issues: read.issues };
    try {
      this.server.setSecureContext(contextOptions(settings, read.material));
    } catch (err) {
      return { ok: false, ...name, issues: [`${name.at}: OpenSSL refused these files (${(err as Error).message})`] };
    }
    this.certificate = servedCertificate(read.material);
    return { ok: true, ...name, ...this.certificate };
  }

  /** For closing at once, after `server.closeAllConnections()`: ends the connections it cannot see. */
  destroyPending(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /**
   * Node's TLS server meets a plain-HTTP request with a closed connection and nothing else
   * ("Empty reply from server"), which leaves a caller guessing. Like nginx, the gateway
   * answers it: the connection's first byte tells a TLS handshake (0x16) from an HTTP request
   * line (a method: upper-case letters). TLS connections go on to the TLS server untouched
   * (the byte is put back, and Node's TLS socket takes data already read from its transport);
   * plain-HTTP ones get 400 INVALID_REQUEST in plain HTTP and are closed; anything else is
   * closed. This puts a check in front of the TLS server's own 'connection' listener, with
   * EventEmitter's public API.
   */
  private answerPlainHttp(): void {
    const { server, options } = this;
    const tlsListeners = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      // A connection that never sends a byte, or hangs up before it, must not be held for ever.
      const hangUp = (): void => void socket.destroy();
      socket.setTimeout(options.handshakeTimeoutMs, hangUp);
      socket.once('end', hangUp);
      socket.once('data', (first: Buffer) => {
        socket.setTimeout(0);
        socket.off('timeout', hangUp);
        socket.off('end', hangUp);
        socket.pause();
        socket.unshift(first);
        if (first[0] === HANDSHAKE) {
          for (const listener of tlsListeners) listener.call(server, socket);
          process.nextTick(() => socket.resume());
          return;
        }
        if (first[0] === undefined || first[0] < 0x41 || first[0] > 0x5a) {
          socket.destroy();
          return;
        }
        refusePlainHttp(socket, first, options);
      });
    });
  }
}

function servedCertificate(material: TlsMaterial): ServedCertificate {
  return { subject: material.leaf.subject.replace(/\n/g, ', '), validTo: new Date(material.leaf.validTo).toISOString(), fingerprint256: material.leaf.fingerprint256 };
}

function readOrThrow(settings: TlsSettings, at: string): TlsMaterial {
  const read = readTlsFiles(settings, at);
  if (read.material === undefined) throw new ConfigError(read.issues);
  return read.material;
}

function contextOptions(settings: TlsSettings, material: TlsMaterial): SecureContextOptions {
  return { cert: material.cert, key: material.key, ca: material.ca, minVersion: settings.minVersion };
}

function refusePlainHttp(socket: Socket, first: Buffer, options: HttpsServerOptions): void {
  const line = /^([A-Z]+) (\/\S*) HTTP\/1\.[01]\r?\n/.exec(first.toString('latin1', 0, Math.min(first.length, 8192)));
  const req = { method: line?.[1], url: line?.[2] ?? '/', headers: {} };
  const requestId = randomUUID();
  const scheme = options.name.listener === 'admin' ? 'the admin listener' : 'this listener';
  answerOnSocket(socket, new GatewayError('INVALID_REQUEST', { detail: `This port speaks HTTPS only (${scheme} has TLS configured); the request arrived as plain HTTP. Use an https:// URL.` }), req, requestId);
  options.logger.info({ requestId, req: { method: req.method, path: pathOf(req.url) }, code: 'INVALID_REQUEST', res: { status: 400 }, listener: options.name.listener, tlsError: 'plain HTTP on a TLS port' }, 'client error');
  options.countRefused?.(req.method, 400, 'INVALID_REQUEST');
}
