// Money and time as the gateway shows them (app/core/money.py, app/schema/types/scalars.py):
// integer minor units in, a decimal string in major units out, never a float.
const EXPONENTS = { GBP: 2, INR: 2, EUR: 2, USD: 2, JPY: 0, KWD: 3 };
const PREFIXES = { GBP: '£', INR: '₹', EUR: '€', USD: '$', JPY: '¥', KWD: 'KWD ' };

export function toMajor(minor, currency) {
  const places = EXPONENTS[currency];
  if (places === undefined) throw new Error(`unsupported currency ${String(currency).slice(0, 16)}`);
  // Safe integers only: a JSON number past 2**53 has already lost its digits in JSON.parse.
  if (!Number.isSafeInteger(minor)) throw new Error('amount is not a safe integer');
  const sign = minor < 0 ? '-' : '';
  const digits = String(Math.abs(minor));
  if (places === 0) return sign + digits;
  const padded = digits.padStart(places + 1, '0');
  return `${sign}${padded.slice(0, -places)}.${padded.slice(-places)}`;
}

function group(digits, pairs) {
  if (digits.length <= 3) return digits;
  let head = digits.slice(0, -3);
  const groups = [digits.slice(-3)];
  const size = pairs ? 2 : 3;
  while (head) {
    groups.push(head.slice(-size));
    head = head.slice(0, -size);
  }
  return groups.reverse().join(',');
}

export function formatMoney(minor, currency) {
  const major = toMajor(minor, currency);
  const negative = major.startsWith('-');
  const unsigned = negative ? major.slice(1) : major;
  const [whole, fraction] = unsigned.split('.');
  const grouped = group(whole, currency === 'INR');
  return `${negative ? '-' : ''}${PREFIXES[currency]}${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

// RFC 3339 in, the gateway's UTC form out: "2026-01-02T09:05:00Z", microseconds only when
// not zero (Python's isoformat), a leap second kept as :59.
export function utcTimestamp(text) {
  const m = DATE_TIME.exec(text);
  if (m === null) throw new Error('not an RFC 3339 date-time');
  const micros = (m[7] ?? '').padEnd(6, '0').slice(0, 6);
  const second = m[6] === '60' ? 59 : Number(m[6]);
  let ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), second);
  if (m[8] !== 'Z' && m[8] !== 'z') {
    const sign = m[8][0] === '-' ? -1 : 1;
    ms -= sign * (Number(m[8].slice(1, 3)) * 60 + Number(m[8].slice(4, 6))) * 60_000;
  }
  const base = new Date(ms).toISOString().slice(0, 19);
  return micros === '000000' ? `${base}Z` : `${base}.${micros}Z`;
}

// Oldest first by (created_at, id), as the gateway orders payments and refunds.
export function byCreated(records) {
  return records
    .map((r) => [utcTimestamp(r.created_at).replace('Z', '').padEnd(26, '.000000').slice(0, 26), r])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1].id < b[1].id ? -1 : a[1].id > b[1].id ? 1 : 0))
    .map(([, r]) => r);
}

export function encodeCursor(id) {
  return Buffer.from(`v1:${id}`).toString('base64url');
}

export function decodeCursor(cursor, prefix) {
  if (cursor === null || cursor === undefined) return null;
  const invalid = new Error('after is not a cursor of this list.');
  if (cursor.length > 64 || !/^[A-Za-z0-9_-]*$/.test(cursor)) throw invalid;
  const raw = Buffer.from(cursor, 'base64url').toString('latin1');
  if (!raw.startsWith('v1:')) throw invalid;
  const id = raw.slice(3);
  if (!new RegExp(`^${prefix}_[A-Za-z0-9]{1,32}$`).test(id)) throw invalid;
  return id;
}
