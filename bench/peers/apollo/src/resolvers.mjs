// The resolvers of schema.graphql: each object as the downstream service sent it, each
// field read from it or loaded through the request's DataLoaders, shaped as the gateway
// shapes it (enums upper case, money as decimal strings, timestamps in UTC).
import { GraphQLError } from 'graphql';
import { byCreated, decodeCursor, encodeCursor, formatMoney, toMajor, utcTimestamp } from './money.mjs';
import { admits, guarded, hasScope, mayReadType, notFound, TYPE_READ_SCOPES } from './policy.mjs';

const MAX_PAGE = 100;
const MAX_NODES = 100;
const TYPE_OF_PREFIX = { biz: 'Business', cus: 'Customer', inv: 'Invoice', pay: 'Payment', re: 'Refund' };
const LOADER_OF_TYPE = { Business: 'business', Customer: 'customer', Invoice: 'invoice', Payment: 'payment', Refund: 'refund' };
const TYPE_OF_OBJECT = { business: 'Business', customer: 'Customer', invoice: 'Invoice', payment: 'Payment', refund: 'Refund' };

const money = (minor, currency) => ({ minor, currency });
const badInput = (message) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
const scopeError = (scope) =>
  new GraphQLError(`This token lacks the scope ${scope}, which this needs.`, {
    extensions: { code: 'FORBIDDEN', requiredScope: scope },
  });

function asBusiness(business) {
  // The business is its own owner: field rules read `business_id` like every other type's.
  return business === null ? null : { ...business, business_id: business.id };
}

async function load(context, typeName, id) {
  const found = await context.reads[LOADER_OF_TYPE[typeName]].load(id);
  return typeName === 'Business' ? asBusiness(found) : found;
}

function mine(items, businessId) {
  return byCreated(items.filter((item) => item.business_id === businessId));
}

export const resolvers = {
  Query: {
    async business(_root, { id }, context) {
      if (!admits(context.caller, id)) throw notFound();
      const business = await load(context, 'Business', id);
      if (business === null) throw notFound();
      return business;
    },
    async invoice(_root, { id }, context) {
      if (!mayReadType(context.caller, 'Invoice')) throw scopeError(TYPE_READ_SCOPES.Invoice);
      const invoice = await load(context, 'Invoice', id);
      if (invoice === null) throw notFound();
      return invoice;
    },
    nodes(_root, { ids }, context) {
      if (ids.length > MAX_NODES) throw badInput(`nodes takes at most ${MAX_NODES} ids.`);
      // Every load starts in this tick: one batch per type, whatever the order of the ids.
      return ids.map((id) => {
        const typeName = TYPE_OF_PREFIX[id.split('_', 1)[0]];
        if (typeName === undefined) return null;
        if (!mayReadType(context.caller, typeName)) return scopeError(TYPE_READ_SCOPES[typeName]);
        return load(context, typeName, id);
      });
    },
  },
  Node: {
    __resolveType: (object) => TYPE_OF_OBJECT[object.object],
  },
  Business: {
    name: guarded('Business', 'name', (b) => b.name),
    vatNumber: guarded('Business', 'vatNumber', (b) => b.vat_number ?? null),
    viewerRole: (b, _args, context) => context.caller.memberships.get(b.id).toUpperCase(),
    balance: guarded('Business', 'balance', async (b, _args, context) => {
      const balance = await context.reads.balance.load(b.id);
      if (balance === null) return null;
      return {
        available: balance.available.map((m) => money(m.amount, m.currency)),
        pending: balance.pending.map((m) => money(m.amount, m.currency)),
      };
    }),
    async invoices(b, { first, after, status, customerId }, context) {
      if (!hasScope(context.caller, TYPE_READ_SCOPES.Invoice)) throw scopeError(TYPE_READ_SCOPES.Invoice);
      const limit = first ?? 20;
      if (!(limit >= 1 && limit <= MAX_PAGE)) throw badInput(`first must be between 1 and ${MAX_PAGE}.`);
      let startingAfter;
      try {
        startingAfter = decodeCursor(after, 'inv');
      } catch (error) {
        throw badInput(error.message);
      }
      const params = { limit: String(limit) };
      if (startingAfter !== null) params.starting_after = startingAfter;
      if (status) params.status = status.toLowerCase();
      if (customerId) params.customer_id = customerId;
      let { items, hasMore } = await context.reads.invoicePage(b.id, params);
      if (status) items = items.filter((i) => i.status === params.status);
      if (customerId) items = items.filter((i) => i.customer_id === customerId);
      return {
        edges: items.map((node) => ({ cursor: encodeCursor(node.id), node })),
        pageInfo: { hasNextPage: hasMore, endCursor: items.length ? encodeCursor(items.at(-1).id) : null },
      };
    },
  },
  Money: {
    amount: (m) => toMajor(m.minor, m.currency),
    formatted: (m) => formatMoney(m.minor, m.currency),
  },
  Invoice: {
    status: (i) => i.status.toUpperCase(),
    taxRateBps: (i) => i.tax_rate_bps,
    dueDate: (i) => i.due_date,
    isOverdue: (i, _args, context) => i.status === 'open' && i.due_date < context.today,
    createdAt: (i) => utcTimestamp(i.created_at),
    updatedAt: (i) => utcTimestamp(i.updated_at),
    lines: (i) => i.lines.map((line) => ({ ...line, currency: i.currency })),
    subtotal: (i) => money(i.subtotal, i.currency),
    tax: (i) => money(i.tax, i.currency),
    total: (i) => money(i.total, i.currency),
    amountPaid: (i) => money(i.amount_paid, i.currency),
    amountDue: (i) => money(i.amount_due, i.currency),
    async customer(i, _args, context) {
      if (!mayReadType(context.caller, 'Customer')) throw scopeError(TYPE_READ_SCOPES.Customer);
      const customer = await context.reads.customer.load(i.customer_id);
      if (customer === null || customer.business_id !== i.business_id) throw notFound();
      return customer;
    },
    async payments(i, _args, context) {
      if (!mayReadType(context.caller, 'Payment')) throw scopeError(TYPE_READ_SCOPES.Payment);
      return mine(await context.reads.paymentsOfInvoice.load(i.id), i.business_id);
    },
  },
  InvoiceLine: {
    unitAmount: (line) => money(line.unit_amount, line.currency),
    amount: (line) => money(line.amount, line.currency),
  },
  Customer: {
    email: guarded('Customer', 'email', (c) => c.email ?? null),
    phone: guarded('Customer', 'phone', (c) => c.phone ?? null),
  },
  Payment: {
    status: (p) => p.status.toUpperCase(),
    failureCode: (p) => p.failure_code ?? null,
    createdAt: (p) => utcTimestamp(p.created_at),
    amount: (p) => money(p.amount, p.currency),
    amountRefunded: (p) => money(p.amount_refunded, p.currency),
    paymentMethod: guarded('Payment', 'paymentMethod', (p) => ({
      type: p.payment_method.type.toUpperCase(),
      brand: p.payment_method.brand ?? null,
      last4: p.payment_method.last4 ?? null,
      upiVpa: p.payment_method.upi_vpa ?? null,
    })),
    async refunds(p, _args, context) {
      return mine(await context.reads.refundsOfPayment.load(p.id), p.business_id);
    },
  },
  Refund: {
    status: (r) => r.status.toUpperCase(),
    reason: (r) => (r.reason ? r.reason.toUpperCase() : null),
    createdAt: (r) => utcTimestamp(r.created_at),
    amount: (r) => money(r.amount, r.currency),
  },
};
