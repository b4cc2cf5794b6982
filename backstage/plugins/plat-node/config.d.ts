export interface Config {
  /** How Backstage reaches plat. Read by the plat scaffolder actions and catalog provider. */
  plat?: {
    /** Base URL of the `plat server`, e.g. https://plat.example.com */
    server: string;
    /** The plat executable the scaffolder actions run (default: `plat` on the backend's PATH). */
    binary?: string;
    /**
     * Account the service identity acts in (default: its own).
     */
    account?: string;
    /**
     * A bearer token of the service identity.
     * @visibility secret
     */
    token?: string;
    /** Service credentials from the identity provider (OAuth 2.0 client credentials grant). */
    oidc?: {
      /** Issuer URL; its discovery document names the token endpoint. */
      issuer: string;
      clientId: string;
      /** @visibility secret */
      clientSecret: string;
      /** Resource indicator (RFC 8707) naming plat as the token's audience, e.g. urn:plat:api */
      audience?: string;
      /** Scopes to ask for, space-separated. */
      scope?: string;
    };
    /**
     * Act for the Backstage user who started a task (default true): plat applies that user's
     * permissions and quota. The service identity needs the permission `users:act-for`.
     */
    actOnBehalfOfUser?: boolean;
    /**
     * Extra environment for the plat process, e.g. PLAT_IAC_BIN. Nothing else is taken from
     * the backend's own environment except PATH.
     */
    environment?: { [name: string]: string };
    /** The catalog provider. */
    catalog?: {
      /** Accounts whose published inventories become catalog entities (default: the service's own). */
      accounts?: string[];
      /** How often to read them (default every 5 minutes). */
      schedule?: {
        frequency?: { minutes?: number; seconds?: number; hours?: number };
        timeout?: { minutes?: number; seconds?: number };
      };
    };
  };
}
