/** Request targets that could be read differently by the gateway and an upstream are refused (SPEC §4 INVALID_REQUEST). */
import { unsafePathReason } from '../../src/routing/path-safety';

describe('unsafePathReason', () => {
  it.each([
    ['/'],
    ['/api/loans'],
    ['/api/loans/7'],
    ['/api/loans/'],
    ['/api/loans?x=1&y=2'],
    ['/api/loans?next=/a/../b'], // the query is not a path
    ['/api/loans?redirect=%2Fhome'],
    ['/api/file.v2.json'],
    ['/api/.well-known/x'],
    ['/api/a..b'],
    ['/api/%41%42'],
    ['/api/caf%C3%A9'],
    ['/api/~user/x-y_z'],
    ['/api/x;v=1/y'], // a path parameter on an ordinary segment
    ['/api/..x;y'],
  ])('accepts %s', (target) => {
    expect(unsafePathReason(target)).toBeNull();
  });

  it.each([
    ['/a/../b', /dot-segments/],
    ['/a/./b', /dot-segments/],
    ['/a/..', /dot-segments/],
    ['/a/.', /dot-segments/],
    ['/..', /dot-segments/],
    ['/a/%2e%2e/b', /dot-segments/],
    ['/a/%2E%2E/b', /dot-segments/],
    ['/a/.%2e/b', /dot-segments/],
    ['/a/%2e/b', /dot-segments/],
    ['/api/..;/admin', /dot-segments/],
    ['/api/..;jsessionid=1/admin', /dot-segments/],
    ['/api/.;x/b', /dot-segments/],
    ['/api/%2e%2e;/admin', /dot-segments/],
    ['/api/x#frag', /fragment/],
    ['/api/x?q=1#frag', /fragment/],
    ['/a/..%2fb', /encoded slashes/],
    ['/a%2fb', /encoded slashes/],
    ['/a%2Fb', /encoded slashes/],
    ['/a%5cb', /encoded slashes/],
    ['/a\\b', /backslash/],
    ['/a\\..\\b', /backslash/],
    ['//evil.example/x', /empty path segments/],
    ['/a//b', /empty path segments/],
    ['/a/%zz', /percent-encoding/],
    ['/a/%2', /percent-encoding/],
    ['/a/%', /percent-encoding/],
    ['/a/%C3%28', /UTF-8/],
    ['/a/%00', /NUL/],
    ['/a b', /percent-encoded/],
    ['/caf\u00e9', /percent-encoded/],
    ['http://evil.example/api', /origin-form/],
    ['*', /origin-form/],
    ['api/loans', /origin-form/],
  ])('refuses %s', (target, reason) => {
    expect(unsafePathReason(target)).toMatch(reason);
  });
});
