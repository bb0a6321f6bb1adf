// The two REST services: one keep-alive undici pool each, the service's token, the
// request's X-Request-Id, a 5 s limit per call inside the request's own deadline, and
// DataLoaders that turn every read of a tick into one `?ids=a,b,c` call (100 ids at most,
// the contracts' limit). Objects of businesses the caller is not a member of, or that
// were not asked for, are dropped, never shown.
import { Pool } from 'undici';
import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';

const CALL_TIMEOUT_MS = 5_000;
const BATCH_LIMIT = 100;

export class DownstreamError extends GraphQLError {
  constructor(service, message) {
    super(`The ${service} service failed: ${message}`, {
      extensions: { code: 'DOWNSTREAM_UNAVAILABLE', service },
    });
  }
}

export class ServicePool {
  constructor(name, baseUrl, token) {
    this.name = name;
    this.pool = new Pool(baseUrl, {
      connections: 100,
      keepAliveTimeout: 60_000,
      headersTimeout: CALL_TIMEOUT_MS,
      bodyTimeout: CALL_TIMEOUT_MS,
    });
    this.authorization = `Bearer ${token}`;
  }

  close() {
    return this.pool.close();
  }

  // One GET for one request: JSON back, or a DownstreamError.
  async get(path, params, requestId, signal) {
    const query = new URLSearchParams(params).toString();
    let response;
    try {
      response = await this.pool.request({
        method: 'GET',
        path: `${path}?${query}`,
        headers: {
          authorization: this.authorization,
          accept: 'application/json',
          'x-request-id': requestId,
        },
        signal,
      });
    } catch (error) {
      throw new DownstreamError(this.name, `GET ${path}: ${error.code ?? error.name}`);
    }
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new DownstreamError(this.name, `GET ${path}: HTTP ${response.statusCode}`);
    }
    const body = await response.body.json();
    if (body === null || !Array.isArray(body.data)) {
      throw new DownstreamError(this.name, `GET ${path}: not a list envelope`);
    }
    return body;
  }
}

// A loader of `path?param=k1,k2` whose answers carry the key in `keyField`; `many`: each
// key has a list (payments of an invoice), else one object or null.
function batchLoader(call, path, param, keyField, owned, many) {
  return new DataLoader(
    async (keys) => {
      const body = await call(path, { [param]: keys.join(',') });
      const asked = new Set(keys);
      const found = new Map();
      for (const item of body.data) {
        const key = item?.[keyField];
        if (!asked.has(key) || !owned(item)) continue;
        if (many) {
          if (!found.has(key)) found.set(key, []);
          found.get(key).push(item);
        } else {
          found.set(key, item);
        }
      }
      return keys.map((key) => found.get(key) ?? (many ? [] : null));
    },
    { maxBatchSize: BATCH_LIMIT },
  );
}

// Everything one GraphQL request reads downstream, made per request (DataLoader caches
// per request only, so one caller never sees another's reads).
export function requestReads(services, caller, requestId, signal) {
  const owned = (item) => caller.memberships.has(item?.business_id);
  const invoicing = (path, params) => services.invoicing.get(path, params, requestId, signal);
  const payments = (path, params) => services.payments.get(path, params, requestId, signal);
  const invoice = batchLoader(invoicing, '/v1/invoices', 'ids', 'id', owned, false);
  return {
    business: batchLoader(invoicing, '/v1/businesses', 'ids', 'id', (b) => caller.memberships.has(b?.id), false),
    customer: batchLoader(invoicing, '/v1/customers', 'ids', 'id', owned, false),
    invoice,
    payment: batchLoader(payments, '/v1/payments', 'ids', 'id', owned, false),
    refund: batchLoader(payments, '/v1/refunds', 'ids', 'id', owned, false),
    balance: batchLoader(payments, '/v1/balances', 'business_ids', 'business_id', owned, false),
    paymentsOfInvoice: batchLoader(payments, '/v1/payments', 'invoice_ids', 'invoice_id', owned, true),
    refundsOfPayment: batchLoader(payments, '/v1/refunds', 'payment_ids', 'payment_id', owned, true),
    async invoicePage(businessId, params) {
      const body = await invoicing('/v1/invoices', { business_id: businessId, ...params });
      const limit = Number(params.limit);
      const mine = body.data.filter((i) => i?.business_id === businessId);
      const items = mine.slice(0, limit);
      for (const item of items) invoice.prime(item.id, item);
      return { items, hasMore: body.has_more === true || mine.length > limit };
    },
  };
}
