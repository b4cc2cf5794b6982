import type { PlatConfig, PlatOidcConfig } from './config';

type CachedToken = { value: string; renewAt: number };

/**
 * The service identity's bearer token: `plat.token` as configured, or an access token from the
 * identity provider's client credentials grant, reused until shortly before it expires.
 * @public
 */
export class PlatCredentials {
  private cached?: CachedToken;
  private pending?: Promise<CachedToken>;

  constructor(private readonly config: Pick<PlatConfig, 'token' | 'oidc'>) {}

  async token(): Promise<string> {
    if (this.config.token) {
      return this.config.token;
    }
    if (this.cached && Date.now() < this.cached.renewAt) {
      return this.cached.value;
    }
    // One request at a time: concurrent tasks share the token being fetched.
    this.pending ??= fetchClientCredentialsToken(this.config.oidc!).finally(() => {
      this.pending = undefined;
    });
    this.cached = await this.pending;
    return this.cached.value;
  }
}

async function fetchClientCredentialsToken(oidc: PlatOidcConfig): Promise<CachedToken> {
  const discoveryUrl = `${oidc.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const discovery = await fetch(discoveryUrl);
  if (!discovery.ok) {
    throw new Error(`plat: ${discoveryUrl} answered ${discovery.status}`);
  }
  const { token_endpoint: tokenEndpoint } = (await discovery.json()) as {
    token_endpoint?: string;
  };
  if (!tokenEndpoint) {
    throw new Error(`plat: ${discoveryUrl} names no token_endpoint`);
  }
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (oidc.audience) form.set('resource', oidc.audience);
  if (oidc.scope) form.set('scope', oidc.scope);
  const basic = Buffer.from(
    `${encodeURIComponent(oidc.clientId)}:${encodeURIComponent(oidc.clientSecret)}`,
  ).toString('base64');
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: form,
  });
  const body = (await response.json().catch(() => ({}))) as {
    access_token?: string;
    expires_in?: number;
    error?: string;
    error_description?: string;
  };
  if (!response.ok || !body.access_token) {
    throw new Error(
      `plat: the identity provider refused the client credentials of ${oidc.clientId}: ${
        body.error_description ?? body.error ?? response.status
      }`,
    );
  }
  const lifetime = (body.expires_in ?? 300) * 1000;
  // Renew at 80% of the lifetime so a token never expires in the middle of a task.
  return { value: body.access_token, renewAt: Date.now() + lifetime * 0.8 };
}
