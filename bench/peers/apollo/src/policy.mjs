// Who may see what (app/auth/policy.py): an object exists for the caller only if its
// business is in the token's memberships; within it, the role and the partner scopes open
// the guarded fields.
import { GraphQLError } from 'graphql';

const ALL = new Set(['read', 'read_sensitive', 'read_balance', 'write', 'void_or_refund']);
const ROLE_PERMISSIONS = {
  owner: ALL,
  admin: ALL,
  accountant: new Set(['read', 'read_sensitive', 'read_balance', 'write']),
  viewer: new Set(['read']),
};
export const TYPE_READ_SCOPES = {
  Business: null, Customer: 'customers:read', Invoice: 'invoices:read',
  Payment: 'payments:read', Refund: 'payments:read', Balance: 'payments:read',
};
const FIELD_RULES = {
  'Business.name': ['read', 'businesses:read'],
  'Business.vatNumber': ['read_sensitive', 'businesses:read'],
  'Business.balance': ['read_balance', 'payments:read'],
  'Customer.email': ['read_sensitive', null],
  'Customer.phone': ['read_sensitive', null],
  'Payment.paymentMethod': ['read_sensitive', null],
};

export function admits(caller, businessId) {
  return caller.memberships.has(businessId);
}

export function hasScope(caller, scope) {
  return scope === null || caller.scopes === null || caller.scopes.has(scope);
}

export function mayReadType(caller, typeName) {
  return hasScope(caller, TYPE_READ_SCOPES[typeName]);
}

export function notFound() {
  return new GraphQLError('Not found.', { extensions: { code: 'NOT_FOUND' } });
}

// Wraps a field's resolver with its rule: membership, then scope, then role.
export function guarded(typeName, fieldName, resolve) {
  const [permission, scope] = FIELD_RULES[`${typeName}.${fieldName}`];
  return (source, args, context, info) => {
    const role = context.caller.memberships.get(source.business_id);
    if (role === undefined) throw notFound();
    if (!hasScope(context.caller, scope)) {
      throw new GraphQLError(`This token lacks the scope ${scope}, which this needs.`, {
        extensions: { code: 'FORBIDDEN', requiredScope: scope },
      });
    }
    if (!ROLE_PERMISSIONS[role].has(permission)) {
      throw new GraphQLError('Your role or token scope does not allow reading this field.', {
        extensions: { code: 'FORBIDDEN' },
      });
    }
    return resolve(source, args, context, info);
  };
}
