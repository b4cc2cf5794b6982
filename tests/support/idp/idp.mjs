// Test-only OpenID Connect provider for plat's integration tests.
//
// The protocol (discovery, device authorization grant, token endpoint, refresh
// tokens, JWKS, userinfo, JWT access tokens) is implemented entirely by the
// OpenID Certified `oidc-provider` package. This file only configures it and
// adds a few TEST-ONLY control routes under /test/* (see README.md).
//
// NEVER expose this on a non-loopback interface: the /test/* routes let any
// caller approve any device code as any user.

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { promisify } from 'node:util';

// stdout carries exactly one line (`READY <issuer>`); everything else goes to
// stderr. oidc-provider prints notices with console.info, so redirect it.
console.log = console.error;
console.info = console.error;

// Start generating the first signing key (libuv thread pool) while
// oidc-provider is being loaded: both take ~0.3 s, so this halves start-up.
// A spare key for /test/rotate-keys is generated after READY.
const generateKeyPair = promisify(crypto.generateKeyPair);
const firstKey = newSigningKey();
let spareKey;
const { default: Provider, errors } = await import('oidc-provider');

const env = process.env;
const CLIENT_ID = env.IDP_CLIENT_ID || 'plat-cli';
const DEFAULT_RESOURCE = env.IDP_AUDIENCE || 'urn:plat:api';
const SCOPES = ['openid', 'email', 'profile', 'offline_access'];
const VERBOSE = env.IDP_VERBOSE === '1';

const intEnv = (name, dflt) => {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`invalid ${name}=${v}`);
    process.exit(2);
  }
  return n;
};

// Mutable settings (changed at run time by the test routes).
const state = {
  accessTokenTTL: intEnv('IDP_ACCESS_TOKEN_TTL', 300),
  refreshTokenTTL: intEnv('IDP_REFRESH_TOKEN_TTL', 14 * 24 * 3600),
  deviceCodeTTL: intEnv('IDP_DEVICE_CODE_TTL', 600),
  interval: intEnv('IDP_DEVICE_INTERVAL', 1),
  enforceInterval: env.IDP_ENFORCE_INTERVAL !== '0',
  requirePkce: env.IDP_REQUIRE_PKCE === '1',
  emailInAccessToken: env.IDP_EMAIL_IN_ACCESS_TOKEN !== '0',
  keys: [], // signing keys, newest first: { kid, privateJwk }
};

const log = (...args) => console.error('[idp]', ...args);

// ---------------------------------------------------------------------------
// Storage: a plain in-memory adapter (no LRU eviction, unlike oidc-provider's
// bundled MemoryAdapter which caps at 1000 entries). Module-level so that it
// survives rebuilding the Provider on key rotation.
// ---------------------------------------------------------------------------
const store = new Map(); // `${model}:${id}` -> { payload, expiresAt }
const userCodeIndex = new Map(); // userCode -> id
const uidIndex = new Map(); // session uid -> id
const grantIndex = new Map(); // grantId -> Set(keys)
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

function getEntry(key) {
  const e = store.get(key);
  if (!e) return undefined;
  if (e.expiresAt !== undefined && e.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return e;
}

class Adapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    // Keep entries 10 min past their expiry: oidc-provider's models check
    // `exp` themselves, and keeping an expired DeviceCode around is what lets
    // the token endpoint answer `expired_token` instead of `invalid_grant`.
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + (expiresIn + 600) * 1000 : undefined;
    store.set(key, { payload, expiresAt });
    if (this.model === 'Session' && payload.uid) uidIndex.set(payload.uid, id);
    if (payload.userCode) userCodeIndex.set(payload.userCode, id);
    if (GRANTABLE.has(this.model) && payload.grantId) {
      if (!grantIndex.has(payload.grantId)) grantIndex.set(payload.grantId, new Set());
      grantIndex.get(payload.grantId).add(key);
    }
  }

  async find(id) { return getEntry(this.key(id))?.payload; }

  async findByUserCode(userCode) {
    const id = userCodeIndex.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUid(uid) {
    const id = uidIndex.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const e = getEntry(this.key(id));
    if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const key of grantIndex.get(grantId) ?? []) store.delete(key);
    grantIndex.delete(grantId);
  }
}

// ---------------------------------------------------------------------------
// Accounts: any subject exists. E-mail as registered by /test/approve, else
// `<sub>@example.test`.
// ---------------------------------------------------------------------------
const accounts = new Map(); // sub -> { email, name }
// sub -> claims set by /test/claims: added to (null: removed from) that subject's next access
// tokens, e.g. a `groups` claim, or no `email`.
const extraClaims = new Map();

function accountFor(sub) {
  const a = accounts.get(sub) ?? {};
  return {
    sub,
    email: a.email ?? `${sub}@example.test`,
    email_verified: true,
    name: a.name ?? sub,
  };
}

// ---------------------------------------------------------------------------
// PKCE on the device authorization request. oidc-provider ignores
// code_challenge at the device authorization endpoint (it is not part of RFC
// 8628). Keycloak verifies it, so this IdP does too: a challenge sent with the
// device request must be matched by code_verifier on the token request.
// ---------------------------------------------------------------------------
const pkceByDeviceCode = new Map(); // DeviceCode jti -> { challenge, method }
const deviceCodeByUserCode = new Map(); // normalized user code -> device_code value
const lastPoll = new Map(); // device_code value -> ms
const forcedSlowDown = new Map(); // device_code value -> remaining count

const normalizeUserCode = (s) => String(s).toUpperCase().replace(/\W/g, '');

function checkDevicePkce(ctx, deviceCode) {
  const rec = pkceByDeviceCode.get(deviceCode.jti);
  const verifier = ctx.oidc.body?.code_verifier;
  if (!rec) {
    if (state.requirePkce) throw new errors.InvalidGrant('PKCE is required (no code_challenge was sent with the device authorization request)');
    return;
  }
  pkceByDeviceCode.delete(deviceCode.jti);
  if (rec.method !== 'S256') throw new errors.InvalidGrant('unsupported code_challenge_method');
  if (typeof verifier !== 'string' || !/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier)) {
    throw new errors.InvalidGrant('code_verifier missing or malformed');
  }
  const expected = crypto.createHash('sha256').update(verifier).digest('base64url');
  if (expected !== rec.challenge) throw new errors.InvalidGrant('code_verifier does not match code_challenge');
}

// ---------------------------------------------------------------------------
// Signing keys (RSA 2048, generated at start; more are added by rotate-keys).
// ---------------------------------------------------------------------------
// The pre-generated spare key (or a fresh one); starts generating the next.
async function takeSpareKey() {
  const key = await (spareKey ?? newSigningKey());
  spareKey = newSigningKey();
  return key;
}

async function newSigningKey() {
  const { privateKey } = await generateKeyPair('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const kid = `plat-test-${Date.now().toString(36)}-${crypto.randomBytes(4).toString('hex')}`;
  return { kid, privateJwk: { ...jwk, kid, alg: 'RS256', use: 'sig' } };
}

// ---------------------------------------------------------------------------
// Provider
// ---------------------------------------------------------------------------
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

function buildProvider(issuer) {
  const currentKid = () => state.keys[0].kid;

  const configuration = {
    adapter: Adapter,
    clients: [{
      client_id: CLIENT_ID,
      client_name: 'plat CLI (test)',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      scope: SCOPES.join(' '),
    }],
    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    jwks: { keys: state.keys.map((k) => k.privateJwk) },
    cookies: { keys: cookieKeys },
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: env.IDP_DEV_INTERACTIONS === '1' },
      deviceFlow: { enabled: true, charset: 'base-20', mask: '****-****' },
      revocation: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // No resource requested -> urn:plat:api. At the token endpoint, if the
        // grant holds several resources, prefer the default one.
        async defaultResource(_ctx, _client, oneOf) {
          if (oneOf) return oneOf.includes(DEFAULT_RESOURCE) ? DEFAULT_RESOURCE : oneOf[0];
          return DEFAULT_RESOURCE;
        },
        // Any absolute URI is a resource server whose audience is that URI
        // (a test can request e.g. resource=urn:other:api to get a
        // wrong-audience token). All get RS256 JWT access tokens.
        async getResourceServerInfo(_ctx, resourceIndicator) {
          return {
            scope: SCOPES.join(' '),
            audience: resourceIndicator,
            accessTokenFormat: 'jwt',
            accessTokenTTL: state.accessTokenTTL,
            jwt: { sign: { alg: 'RS256', kid: currentKid() } },
          };
        },
        async useGrantedResource() { return true; },
      },
    },
    // Adds `email` (and `email_verified`, `name`) to JWT access tokens,
    // because oidc-provider refuses tokens with an audience at userinfo.
    async extraTokenClaims(_ctx, token) {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const claims = {};
      if (state.emailInAccessToken) {
        const { email, email_verified, name } = accountFor(token.accountId);
        Object.assign(claims, { email, email_verified, name });
      }
      for (const [claim, value] of Object.entries(extraClaims.get(token.accountId) ?? {})) {
        if (value === null) delete claims[claim];
        else claims[claim] = value;
      }
      return claims;
    },
    async findAccount(ctx, sub, token) {
      if (ctx?.oidc?.route === 'token' && token?.kind === 'DeviceCode') {
        checkDevicePkce(ctx, token);
      }
      return {
        accountId: sub,
        async claims() { return accountFor(sub); },
      };
    },
    async issueRefreshToken(_ctx, client, source) {
      return client.grantTypeAllowed('refresh_token') && source.scopes.has('offline_access');
    },
    async expiresWithSession() { return false; },
    pkce: { required: () => false },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? state.accessTokenTTL,
      AuthorizationCode: 60,
      ClientCredentials: 600,
      DeviceCode: () => state.deviceCodeTTL,
      BackchannelAuthenticationRequest: 600,
      PreAuthorizedCode: 600,
      IdToken: 3600,
      RefreshToken: () => state.refreshTokenTTL,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };

  const provider = new Provider(issuer, configuration);

  // Device authorization endpoint: add RFC 8628 `interval` (oidc-provider
  // omits it, so clients would default to 5 s), and remember the PKCE
  // challenge. Token endpoint: enforce the polling interval (slow_down).
  provider.use(async (ctx, next) => {
    await next();
    const route = ctx.oidc?.route;
    if (ctx.method !== 'POST' || !route) return;
    if (route === 'device_authorization' && ctx.status === 200 && ctx.body?.device_code) {
      ctx.body.interval = state.interval;
      const dc = ctx.oidc.entities.DeviceCode;
      const { code_challenge: challenge, code_challenge_method: method } = ctx.oidc.body ?? {};
      if (challenge) pkceByDeviceCode.set(dc.jti, { challenge, method: method ?? 'plain' });
      deviceCodeByUserCode.set(dc.userCode, ctx.body.device_code);
    } else if (route === 'token' && ctx.body?.error === 'authorization_pending') {
      const code = ctx.oidc?.params?.device_code;
      const now = Date.now();
      const prev = lastPoll.get(code);
      lastPoll.set(code, now);
      const forced = forcedSlowDown.get(code) ?? 0;
      const tooFast = state.enforceInterval && prev !== undefined && now - prev < state.interval * 1000 - 50;
      if (forced > 0 || tooFast) {
        if (forced > 0) forcedSlowDown.set(code, forced - 1);
        ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly and should back off at a reasonable rate' };
      }
    }
  });

  provider.on('server_error', (_ctx, err) => log('server_error', err));
  if (VERBOSE) {
    for (const ev of ['grant.success', 'grant.error', 'device_authorization.error', 'userinfo.error']) {
      provider.on(ev, (_ctx, err) => log(ev, err?.message ?? ''));
    }
  }
  return provider;
}

// ---------------------------------------------------------------------------
// TEST-ONLY control routes (loopback only). JSON in, JSON out.
// ---------------------------------------------------------------------------
class HttpError extends Error {
  constructor(status, error, description) {
    super(description);
    this.status = status;
    this.error = error;
  }
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 64 * 1024) throw new HttpError(413, 'too_large', 'body too large');
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    const v = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v;
  } catch {
    throw new HttpError(400, 'invalid_json', 'body must be a JSON object');
  }
}

const str = (body, name, required = true) => {
  const v = body[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || !v) throw new HttpError(400, 'invalid_request', `"${name}" must be a non-empty string`);
  return v;
};

async function findPendingDeviceCode(provider, userCode) {
  const code = await provider.DeviceCode.findByUserCode(normalizeUserCode(userCode), { ignoreExpiration: true });
  if (!code) throw new HttpError(404, 'not_found', 'no device code with this user_code');
  if (code.isExpired) throw new HttpError(410, 'expired', 'the device code has expired');
  if (code.consumed) throw new HttpError(409, 'already_used', 'the device code was already exchanged');
  if (code.accountId || code.error) throw new HttpError(409, 'already_decided', 'the device code was already approved or denied');
  return code;
}

const testRoutes = {
  // Approve a pending device code as `sub` (any subject exists).
  async 'POST /test/approve'(provider, body) {
    const sub = str(body, 'sub');
    const email = str(body, 'email', false);
    const name = str(body, 'name', false);
    const code = await findPendingDeviceCode(provider, str(body, 'user_code'));
    if (email || name) accounts.set(sub, { ...accounts.get(sub), ...(email && { email }), ...(name && { name }) });

    const requested = new Set((code.params.scope ?? '').split(' ').filter(Boolean));
    const oidcScope = SCOPES.filter((s) => requested.has(s));
    let resource = code.params.resource ?? DEFAULT_RESOURCE;
    const resources = Array.isArray(resource) ? resource : [resource];

    const grant = new provider.Grant({ accountId: sub, clientId: code.clientId });
    grant.addOIDCScope(oidcScope.join(' '));
    for (const r of resources) grant.addResourceScope(r, oidcScope.join(' '));
    const grantId = await grant.save();

    if (resources.length === 1) [resource] = resources;
    Object.assign(code, {
      accountId: sub,
      grantId,
      scope: oidcScope.join(' '),
      resource,
      authTime: Math.floor(Date.now() / 1000),
    });
    await code.save();
    log(`approved user_code ${code.userCode} as ${sub}`);
    return { status: 200, body: { approved: true, sub, email: accountFor(sub).email, scope: code.scope, resource } };
  },

  // Deny a pending device code: the client gets access_denied.
  async 'POST /test/deny'(provider, body) {
    const code = await findPendingDeviceCode(provider, str(body, 'user_code'));
    Object.assign(code, { error: 'access_denied', errorDescription: 'End-User denied the authorization request' });
    await code.save();
    log(`denied user_code ${code.userCode}`);
    return { status: 200, body: { denied: true } };
  },

  // Make the next `count` (default 1) pending polls of this device code
  // answer slow_down.
  async 'POST /test/slow-down'(_provider, body) {
    const dc = deviceCodeByUserCode.get(normalizeUserCode(str(body, 'user_code')));
    if (!dc) throw new HttpError(404, 'not_found', 'no device code with this user_code');
    const count = body.count ?? 1;
    if (!Number.isInteger(count) || count < 0) throw new HttpError(400, 'invalid_request', '"count" must be a non-negative integer');
    forcedSlowDown.set(dc, count);
    return { status: 200, body: { slow_down: count } };
  },

  // Change TTLs (seconds) for tokens issued from now on.
  async 'POST /test/ttl'(_provider, body) {
    const map = {
      access_token_ttl: 'accessTokenTTL',
      refresh_token_ttl: 'refreshTokenTTL',
      device_code_ttl: 'deviceCodeTTL',
      interval: 'interval',
    };
    const unknown = Object.keys(body).filter((k) => !(k in map));
    if (unknown.length) throw new HttpError(400, 'invalid_request', `unknown field(s): ${unknown.join(', ')}`);
    for (const [k, v] of Object.entries(body)) {
      const min = k === 'interval' ? 0 : 1;
      if (!Number.isInteger(v) || v < min) throw new HttpError(400, 'invalid_request', `"${k}" must be an integer >= ${min}`);
      state[map[k]] = v;
    }
    log('ttl', JSON.stringify(body));
    return {
      status: 200,
      body: Object.fromEntries(Object.entries(map).map(([k, s]) => [k, state[s]])),
    };
  },

  // Add a new signing key (new kid) used for all new tokens. keep_old
  // (default true) keeps the previous keys in the JWKS.
  async 'POST /test/rotate-keys'(_provider, body) {
    const keepOld = body.keep_old ?? true;
    if (typeof keepOld !== 'boolean') throw new HttpError(400, 'invalid_request', '"keep_old" must be a boolean');
    const key = await takeSpareKey();
    state.keys = keepOld ? [key, ...state.keys] : [key];
    current = buildProvider(current.issuer);
    log(`rotated signing key: kid=${key.kid} keep_old=${keepOld}`);
    return { status: 200, body: { kid: key.kid, kids: state.keys.map((k) => k.kid) } };
  },

  // Invalidate every refresh token (and its grant) of a subject. JWT access
  // tokens already issued stay valid until they expire.
  async 'POST /test/revoke-refresh'(provider, body) {
    const sub = str(body, 'sub');
    const grantIds = new Set();
    for (const [key, e] of store) {
      if (key.startsWith('RefreshToken:') && e.payload.accountId === sub) grantIds.add(e.payload.grantId);
      if (key.startsWith('Grant:') && e.payload.accountId === sub) grantIds.add(e.payload.jti);
    }
    let refreshTokens = 0;
    for (const grantId of grantIds) {
      for (const key of grantIndex.get(grantId) ?? []) if (key.startsWith('RefreshToken:') && store.has(key)) refreshTokens += 1;
      await provider.RefreshToken.adapter.revokeByGrantId(grantId);
      await provider.Grant.adapter.destroy(grantId);
    }
    log(`revoked ${refreshTokens} refresh token(s) / ${grantIds.size} grant(s) of ${sub}`);
    return { status: 200, body: { revoked_refresh_tokens: refreshTokens, revoked_grants: grantIds.size } };
  },

  // Claims for a subject's access tokens issued from now on: each value is added to the token
  // (e.g. "groups": ["/acme/release"]), null leaves that claim out (e.g. "email": null). The
  // claims replace those set before for the subject.
  async 'POST /test/claims'(_provider, body) {
    const sub = str(body, 'sub');
    const claims = body.claims;
    if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
      throw new HttpError(400, 'invalid_request', '"claims" must be a JSON object');
    }
    const reserved = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'scope'];
    const bad = Object.keys(claims).filter((c) => reserved.includes(c));
    if (bad.length) throw new HttpError(400, 'invalid_request', `reserved claim(s): ${bad.join(', ')}`);
    extraClaims.set(sub, claims);
    log(`claims of ${sub}: ${JSON.stringify(claims)}`);
    return { status: 200, body: { sub, claims } };
  },

  // Settings, for debugging.
  async 'GET /test/state'() {
    return {
      status: 200,
      body: {
        issuer: current.issuer,
        client_id: CLIENT_ID,
        audience: DEFAULT_RESOURCE,
        access_token_ttl: state.accessTokenTTL,
        refresh_token_ttl: state.refreshTokenTTL,
        device_code_ttl: state.deviceCodeTTL,
        interval: state.interval,
        enforce_interval: state.enforceInterval,
        require_pkce: state.requirePkce,
        email_in_access_token: state.emailInAccessToken,
        kids: state.keys.map((k) => k.kid),
      },
    };
  },
};

const isLoopback = (addr) => addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1';

async function handleTestRoute(req, res, path) {
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  try {
    if (!isLoopback(req.socket.remoteAddress)) throw new HttpError(403, 'forbidden', 'test routes are loopback-only');
    const route = testRoutes[`${req.method} ${path}`];
    if (!route) throw new HttpError(404, 'not_found', `no test route ${req.method} ${path}`);
    const body = req.method === 'POST' ? await readJson(req) : {};
    const out = await route(current, body);
    send(out.status, out.body);
  } catch (err) {
    if (err instanceof HttpError) {
      send(err.status, { error: err.error, error_description: err.message });
    } else {
      log('test route error', err);
      send(500, { error: 'server_error', error_description: String(err?.message ?? err) });
    }
  }
}

// ---------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------
let current; // the Provider in use (replaced on key rotation)
let basePath = ''; // path prefix of the issuer, e.g. /realms/test

const server = http.createServer((req, res) => {
  if (VERBOSE) log(req.method, req.url);
  const url = req.url ?? '/';
  const path = url.split('?')[0];
  if (path.startsWith(`${basePath}/test/`)) {
    handleTestRoute(req, res, path.slice(basePath.length));
    return;
  }
  if (basePath) {
    if (path !== basePath && !path.startsWith(`${basePath}/`)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not_found"}');
      return;
    }
    req.originalUrl = url;
    req.url = url.slice(basePath.length) || '/';
  }
  current.callback()(req, res);
});

async function main() {
  const port = intEnv('IDP_PORT', 0);
  const [key] = await Promise.all([
    firstKey,
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    }),
  ]);
  state.keys = [key];
  const actualPort = server.address().port;

  let issuer = (env.IDP_ISSUER || 'http://127.0.0.1:{port}').replaceAll('{port}', String(actualPort));
  issuer = issuer.replace(/\/+$/, '');
  basePath = new URL(issuer).pathname.replace(/\/+$/, '');
  current = buildProvider(issuer);

  process.stdout.write(`READY ${issuer}\n`);
  spareKey = newSigningKey();
  log(`listening on 127.0.0.1:${actualPort}, issuer ${issuer}, client ${CLIENT_ID}, audience ${DEFAULT_RESOURCE}, kid ${key.kid}`);
}

function shutdown(signal) {
  log(`${signal}: shutting down`);
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (env.IDP_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.resume();
}

main().catch((err) => {
  console.error('[idp] failed to start:', err);
  process.exit(1);
});
