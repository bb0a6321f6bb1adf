// The benchmark's peer (bench/README.md): the gateway's read scenarios served by Apollo
// Server 5 with DataLoader, one Node process, production mode. Settings come from the
// same environment the gateway gets (bench/stack.py), plus PORT.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { makeVerifier } from './src/auth.mjs';
import { requestReads, ServicePool } from './src/downstream.mjs';
import { resolvers } from './src/resolvers.mjs';

// The gateway's REQUEST_TIMEOUT_SECONDS default: every downstream call of a request is
// aborted once its request is this old.
const REQUEST_TIMEOUT_MS = 10_000;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const typeDefs = readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8');
const services = {
  invoicing: new ServicePool('invoicing', required('INVOICING_URL'), required('INVOICING_TOKEN')),
  payments: new ServicePool('payments', required('PAYMENTS_URL'), required('PAYMENTS_TOKEN')),
};
const verify = makeVerifier({
  issuer: required('JWT_ISSUER'),
  audience: required('JWT_AUDIENCE'),
  jwksUrl: required('JWT_JWKS_URL'),
});

const server = new ApolloServer({
  typeDefs,
  resolvers,
  introspection: false,
  includeStacktraceInErrorResponses: false,
  plugins: [ApolloServerPluginLandingPageDisabled()],
});

const { url } = await startStandaloneServer(server, {
  listen: { host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 4000) },
  async context({ req }) {
    const caller = await verify(req.headers.authorization);
    const requestId = randomUUID().replaceAll('-', '');
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    return {
      caller,
      reads: requestReads(services, caller, requestId, signal),
      today: new Date().toISOString().slice(0, 10),
    };
  },
});
console.log(`apollo peer ready at ${url} (NODE_ENV=${process.env.NODE_ENV ?? 'unset'})`);

async function shutdown() {
  await server.stop();
  await Promise.all([services.invoicing.close(), services.payments.close()]);
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
