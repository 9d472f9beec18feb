// A real OpenID provider for the browser tests: node-oidc-provider (a
// certified implementation) on loopback, with its development login and
// consent pages. Any password is accepted for a known login; the person's
// claims (email, name, groups) come from `accounts`.

import Provider from 'oidc-provider';
import { freePort } from '../tests/support.mjs';

/**
 * Starts a provider for one client (Visita) and returns its issuer URL.
 * `accounts` maps a login to its claims: { email, email_verified, name, groups }.
 */
export async function startOidcProvider({ visitaUrl, id, clientId, clientSecret, accounts }) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [`${visitaUrl}/auth/oidc/${id}/callback`],
        post_logout_redirect_uris: [`${visitaUrl}/login`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    // Every authorization request must carry a PKCE challenge (S256).
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    // Left as the default on purpose: with the code flow, scope claims are
    // only in the user-info answer, which Visita must therefore read.
    conformIdTokenClaims: true,
    findAccount: async (_ctx, login) => {
      const claims = accounts[login];
      if (!claims) return undefined;
      return { accountId: login, claims: async () => ({ sub: login, ...claims }) };
    },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    cookies: { keys: ['visita end2end oidc provider cookie key'] },
  });
  // The development pages warn on every start; they are what we want here.
  const server = provider.listen(port);
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    issuer,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Signs in on the provider's development pages (login, then consent). */
export async function signInAtProvider(page, login) {
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').click();
  const consent = page.locator('button', { hasText: 'Continue' });
  await consent.click();
}
