// An OpenID provider for tests: npm's oidc-provider (OpenID Certified),
// started by provider.go on a loopback port with one confidential client
// and one person, and signing that person in without a form (the
// interaction is finished at once). What it releases is oidc-provider's
// default: in the code flow the ID token carries the subject and the
// claims of the scopes are at the userinfo endpoint (conformIdTokenClaims).
//
// Configuration (environment):
//   NEWSROOM_OIDC_PROVIDER  the oidc-provider package folder
//   OIDC_TEST_CONFIG        JSON: {port, issuer, clientId, clientSecret,
//                           scope, account, claims}; claims are released
//                           under scope (roles, groups), profile and email.
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const cfg = JSON.parse(process.env.OIDC_TEST_CONFIG);
const entry = pathToFileURL(join(process.env.NEWSROOM_OIDC_PROVIDER, 'lib', 'index.js')).href;
const { default: Provider } = await import(entry);

const claims = { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] };
claims[cfg.scope] = ['roles', 'groups'];

const provider = new Provider(cfg.issuer, {
  clients: [{
    client_id: cfg.clientId,
    client_secret: cfg.clientSecret,
    // A native client's loopback redirect may use any port (RFC 8252).
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1/auth/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims,
  scopes: ['openid', cfg.scope],
  features: { devInteractions: { enabled: false } },
  cookies: { keys: ['newsroom-test-cookie-key'] },
  async findAccount(_ctx, id) {
    return { accountId: id, async claims() { return { sub: id, ...cfg.claims }; } };
  },
});

// Every interaction (login, consent) is the configured person agreeing to
// everything asked.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: cfg.account, clientId: details.params.client_id });
  const missing = details.prompt.details || {};
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res,
    { login: { accountId: cfg.account }, consent: { grantId } },
    { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
    return;
  }
  callback(req, res);
});
server.listen(cfg.port, '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
