import type { Config } from '@backstage/config';

/** Client credentials for the identity provider that plat trusts. @public */
export type PlatOidcConfig = {
  issuer: string;
  clientId: string;
  clientSecret: string;
  audience?: string;
  scope?: string;
};

/** The `plat` block of app-config.yaml. @public */
export type PlatConfig = {
  server: string;
  binary: string;
  account?: string;
  token?: string;
  oidc?: PlatOidcConfig;
  actOnBehalfOfUser: boolean;
  environment: Record<string, string>;
};

/**
 * Reads the `plat` block. Exactly one of `plat.token` and `plat.oidc` names the service
 * identity; nothing comes from the backend's environment.
 * @public
 */
export function readPlatConfig(config: Config): PlatConfig {
  const plat = config.getConfig('plat');
  const token = plat.getOptionalString('token');
  const oidcConfig = plat.getOptionalConfig('oidc');
  if (!token === !oidcConfig) {
    throw new Error(
      'plat: set exactly one of plat.token and plat.oidc (client credentials) in app-config.yaml',
    );
  }
  const oidc = oidcConfig && {
    issuer: oidcConfig.getString('issuer'),
    clientId: oidcConfig.getString('clientId'),
    clientSecret: oidcConfig.getString('clientSecret'),
    audience: oidcConfig.getOptionalString('audience'),
    scope: oidcConfig.getOptionalString('scope'),
  };
  const environment: Record<string, string> = {};
  const envConfig = plat.getOptionalConfig('environment');
  for (const key of envConfig?.keys() ?? []) {
    environment[key] = envConfig!.getString(key);
  }
  return {
    server: plat.getString('server').replace(/\/+$/, ''),
    binary: plat.getOptionalString('binary') ?? 'plat',
    account: plat.getOptionalString('account'),
    token,
    oidc,
    actOnBehalfOfUser: plat.getOptionalBoolean('actOnBehalfOfUser') ?? true,
    environment,
  };
}
