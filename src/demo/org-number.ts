/**
 * A Swedish organisation number, `NNNNNN-NNNN` (the hyphen optional on input) with a valid
 * Luhn check digit: the normalised number, or a message saying what is wrong.
 */
export function parseOrgNumber(value: unknown): { ok: true; value: string } | { ok: false; message: string } {
  const m = typeof value === 'string' ? /^(\d{6})-?(\d{4})$/.exec(value.trim()) : null;
  if (!m) return { ok: false, message: 'expected a Swedish organisation number such as 556677-8899' };
  const digits = `${m[1]}${m[2]}`;
  let sum = 0;
  for (let i = 0; i < 9; i++) {
    let d = Number(digits[i]) * (i % 2 === 0 ? 2 : 1);
    if (d > 9) d -= 9;
    sum += d;
  }
  if ((10 - (sum % 10)) % 10 !== Number(digits[9])) return { ok: false, message: `${String(value)} has an invalid check digit` };
  return { ok: true, value: `${m[1]}-${m[2]}` };
}
