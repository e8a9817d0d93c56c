/** The client certificate's subject as sent upstream and logged: RFC 4514, always a valid header value. */
import { rfc4514 } from '../../src/server/client-identity';

describe('rfc4514', () => {
  it.each([
    ['O=Capitex Test\nCN=loan-system', 'CN=loan-system,O=Capitex Test'],
    ['CN=only', 'CN=only'],
    // Node already escapes as RFC 2253 wants; the order is reversed and RDNs joined with commas.
    ['C=SE\nO=Bygg\\, i Skellefteå AB\nCN=x\\"y\\<z\\>\\;#', 'CN=x\\"y\\<z\\>\\;#,O=Bygg\\, i Skellefte\\C3\\A5 AB,C=SE'],
    // A multi-valued RDN: Node writes " + ", RFC 4514 a bare "+"; an escaped plus stays escaped.
    ['OU=a\\+b + UID=7\nCN=svc', 'CN=svc,OU=a\\+b+UID=7'],
  ])('%j → %s', (node, want) => {
    expect(rfc4514(node)).toBe(want);
  });

  it('never yields a character a header value cannot hold', () => {
    const out = rfc4514('CN=tab\there\u0000and\u007f and 日本');
    expect(out).toMatch(/^[\x20-\x7e]*$/);
    expect(out).toBe('CN=tab\\09here\\00and\\7F and \\E6\\97\\A5\\E6\\9C\\AC');
  });
});
