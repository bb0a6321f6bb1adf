// The two REST services: one keep-alive undici pool each, the service's token, the
// request's X-Request-Id, a 5 s limit per call inside the request's own deadline, and
// DataLoaders that turn every read of a tick into one `?ids=a,b,c` call (100 ids at most,
// the contracts' limit). Objects of businesses the caller is not a member of, or that
// were not asked for, are dropped, never shown; so are objects that break the contract
// (contract.mjs), and ids of the wrong shape are never sent.
import { Pool } from 'undici';
import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { CONTRACT, envelope, idShape } from './contract.mjs';

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
      // Below uvicorn's 5 s idle close (it sends no Keep-Alive hint): with 60 s, a
      // connection idle between two phases was reused as the sandbox closed it, and the
      // call failed with UND_ERR_SOCKET (a void `make bench`, 2026-12-03).
      keepAliveTimeout: 4_000,
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
    let body;
    try {
      body = await response.body.json();
    } catch (error) {
      throw new DownstreamError(this.name, `GET ${path}: not JSON`);
    }
    if (!envelope(body)) {
      throw new DownstreamError(this.name, `GET ${path}: not a list envelope`);
    }
    return body;
  }
}

// A loader of `path?param=k1,k2` (keys of the shape `prefix_...`) whose answers are
// `kind` objects carrying the key in `keyField`; `many`: each key has a list (payments of
// an invoice), else one object or null.
function batchLoader(call, path, param, prefix, kind, keyField, owned, many) {
  const shape = idShape(prefix);
  const keeps = CONTRACT[kind];
  return new DataLoader(
    async (keys) => {
      const sendable = keys.filter((key) => shape.test(key));
      const found = new Map();
      if (sendable.length === 0) return keys.map(() => (many ? [] : null));
      const body = await call(path, { [param]: sendable.join(',') });
      const asked = new Set(sendable);
      for (const item of body.data) {
        const key = item?.[keyField];
        if (!asked.has(key) || !keeps(item) || !owned(item)) continue;
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
  const ownBusiness = (b) => caller.memberships.has(b?.id);
  const invoice = batchLoader(invoicing, '/v1/invoices', 'ids', 'inv', 'invoice', 'id', owned, false);
  return {
    business: batchLoader(invoicing, '/v1/businesses', 'ids', 'biz', 'business', 'id', ownBusiness, false),
    customer: batchLoader(invoicing, '/v1/customers', 'ids', 'cus', 'customer', 'id', owned, false),
    invoice,
    payment: batchLoader(payments, '/v1/payments', 'ids', 'pay', 'payment', 'id', owned, false),
    refund: batchLoader(payments, '/v1/refunds', 'ids', 're', 'refund', 'id', owned, false),
    balance: batchLoader(payments, '/v1/balances', 'business_ids', 'biz', 'balance', 'business_id', owned, false),
    paymentsOfInvoice: batchLoader(payments, '/v1/payments', 'invoice_ids', 'inv', 'payment', 'invoice_id', owned, true),
    refundsOfPayment: batchLoader(payments, '/v1/refunds', 'payment_ids', 'pay', 'refund', 'payment_id', owned, true),
    async invoicePage(businessId, params) {
      const body = await invoicing('/v1/invoices', { business_id: businessId, ...params });
      const limit = Number(params.limit);
      const mine = body.data.filter((i) => i?.business_id === businessId && CONTRACT.invoice(i));
      const items = mine.slice(0, limit);
      for (const item of items) invoice.prime(item.id, item);
      return { items, hasMore: body.has_more === true || mine.length > limit };
    },
  };
}
