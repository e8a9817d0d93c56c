/**
 * `upstreams.business.timeoutMs`, `routes[0].path`. A key that would be invisible or misread
 * in that notation (empty, leading or trailing blanks, control characters, `: `) is quoted,
 * `listen["port "]`, so a stray space in a key is still visible in the message.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'symbol' || key === '' || key.trim() !== key || key.includes(': ') || hasControlCharacter(key)) out += `[${JSON.stringify(String(key))}]`;
    else out += out === '' ? key : `.${key}`;
  }
  return out || '(root)';
}

function hasControlCharacter(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}
