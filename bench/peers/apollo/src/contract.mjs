// What the downstream contracts promise (app/downstream/models.py), checked on every object
// before it is used: strict types (no floats, no numeric strings), the contracts' enums
// and id shapes, RFC 3339 text, and an invoice's documented arithmetic. An object that
// breaks it is left out, as the gateway leaves it out; the gateway's and the baseline's
// pydantic models do this work, so the peer does it too.
const CURRENCIES = new Set(['GBP', 'INR', 'EUR', 'USD', 'JPY', 'KWD']);
const DATE_TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$/;
const FULL_DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const PAYMENT_STATUSES = new Set(['succeeded', 'pending', 'failed']);

export const idShape = (prefix) => new RegExp(`^${prefix}_[A-Za-z0-9]{1,32}$`);
const ID = { biz: idShape('biz'), cus: idShape('cus'), inv: idShape('inv'), pay: idShape('pay'), re: idShape('re') };

const str = (v) => typeof v === 'string';
const optStr = (v) => v === undefined || v === null || typeof v === 'string';
const int = (v) => Number.isSafeInteger(v);
const nonNeg = (v) => int(v) && v >= 0;
const pos = (v) => int(v) && v >= 1;
const oneOf = (set) => (v) => set.has(v);
const optOneOf = (set) => (v) => v === undefined || v === null || set.has(v);
const timestamp = (v) => str(v) && DATE_TIME.test(v);
const date = (v) => str(v) && FULL_DATE.test(v);
const list = (check) => (v) => Array.isArray(v) && v.every(check);
const object = (fields, also = () => true) => (v) =>
  v !== null && typeof v === 'object' && !Array.isArray(v) &&
  Object.entries(fields).every(([name, check]) => check(v[name])) && also(v);

function halfEvenTax(subtotal, rateBps) {
  const product = subtotal * rateBps;
  let quotient = Math.floor(product / 10_000);
  const twice = (product - quotient * 10_000) * 2;
  if (twice > 10_000 || (twice === 10_000 && quotient % 2 === 1)) quotient += 1;
  return quotient;
}

const line = object(
  { description: str, quantity: pos, unit_amount: nonNeg, amount: nonNeg },
  (l) => l.amount === l.quantity * l.unit_amount,
);
const moneyAmount = object({ amount: int, currency: oneOf(CURRENCIES) });

export const CONTRACT = {
  business: object({
    id: (v) => str(v) && ID.biz.test(v), object: (v) => v === 'business', name: str,
    country: oneOf(new Set(['GB', 'IN'])), default_currency: oneOf(CURRENCIES),
    vat_number: optStr, created_at: timestamp,
  }),
  customer: object({
    id: (v) => str(v) && ID.cus.test(v), object: (v) => v === 'customer', business_id: str,
    name: str, email: (v) => v === null || str(v), phone: optStr, created_at: timestamp,
  }),
  invoice: object(
    {
      id: (v) => str(v) && ID.inv.test(v), object: (v) => v === 'invoice', business_id: str,
      customer_id: str, number: str, status: oneOf(new Set(['draft', 'open', 'paid', 'void'])),
      currency: oneOf(CURRENCIES), lines: list(line),
      tax_rate_bps: (v) => int(v) && v >= 0 && v <= 10_000,
      subtotal: nonNeg, tax: nonNeg, total: nonNeg, amount_paid: nonNeg, amount_due: nonNeg,
      due_date: date, payment_ids: (v) => v === undefined || list(str)(v),
      created_at: timestamp, updated_at: timestamp,
    },
    (i) =>
      i.subtotal === i.lines.reduce((sum, l) => sum + l.amount, 0) &&
      i.tax === halfEvenTax(i.subtotal, i.tax_rate_bps) &&
      i.total === i.subtotal + i.tax,
  ),
  payment: object({
    id: (v) => str(v) && ID.pay.test(v), object: (v) => v === 'payment', business_id: str,
    invoice_id: str, amount: pos, currency: oneOf(CURRENCIES), status: oneOf(PAYMENT_STATUSES),
    failure_code: optOneOf(new Set(['card_declined', 'insufficient_funds'])),
    amount_refunded: nonNeg,
    payment_method: object({
      type: oneOf(new Set(['card', 'upi', 'bank_transfer'])), brand: optStr,
      last4: (v) => v === undefined || v === null || (str(v) && /^[0-9]{4}$/.test(v)), upi_vpa: optStr,
    }),
    created_at: timestamp,
  }),
  refund: object({
    id: (v) => str(v) && ID.re.test(v), object: (v) => v === 'refund', business_id: str,
    payment_id: str, amount: pos, currency: oneOf(CURRENCIES), status: oneOf(PAYMENT_STATUSES),
    reason: optOneOf(new Set(['duplicate', 'fraudulent', 'requested_by_customer'])),
    created_at: timestamp,
  }),
  balance: object({
    object: (v) => v === 'balance', business_id: str,
    available: list(moneyAmount), pending: list(moneyAmount),
  }),
};

// The list envelope: {object: "list", data: [...], has_more: bool}.
export const envelope = object({ object: (v) => v === 'list', data: Array.isArray, has_more: (v) => typeof v === 'boolean' });
