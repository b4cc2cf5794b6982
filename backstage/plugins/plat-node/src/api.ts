import type { PlatConfig } from './config';
import type { PlatCredentials } from './credentials';

/** An error answer of plat's HTTP API, with plat's own message and hint. @public */
export class PlatApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'PlatApiError';
  }
}

/**
 * GET on plat's API (`/api/v1...`) as the service identity, in `account` when given.
 * @public
 */
export async function platFetch(
  config: Pick<PlatConfig, 'server'>,
  credentials: PlatCredentials,
  path: string,
  account?: string,
): Promise<Response> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${await credentials.token()}`,
  };
  if (account) {
    headers['x-plat-account'] = account;
  }
  const url = `${config.server}/api/v1${path}`;
  const response = await fetch(url, { headers });
  if (!response.ok) {
    const body = (await response.json().catch(() => undefined)) as
      | { error?: { code?: string; message?: string; hint?: string } }
      | undefined;
    const detail = body?.error;
    throw new PlatApiError(
      `GET ${url}: ${detail?.message ?? `answered ${response.status}`}${
        detail?.hint ? ` (hint: ${detail.hint})` : ''
      }`,
      response.status,
      detail?.code,
      detail?.hint,
    );
  }
  return response;
}
