// End-to-end check of the test IdP: starts `node idp.mjs` on a free port and
// drives the device flow, refresh, userinfo, deny, expiry, key rotation and
// revocation paths with plain HTTP (fetch). Exits non-zero on the first
// failure. Usage: node verify.mjs   (or: npm run verify)

import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLIENT_ID = 'plat-cli';
const AUD = 'urn:plat:api';
const SCOPE = 'openid email profile offline_access';
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

let passed = 0;
function ok(cond, what, extra) {
  if (!cond) {
    console.error(`FAIL: ${what}`, extra === undefined ? '' : JSON.stringify(extra, null, 2));
    throw new Error(`check failed: ${what}`);
  }
  passed += 1;
  console.log(`ok   ${what}`);
}

// --- start the IdP -----------------------------------------------------------
const t0 = performance.now();
const idp = spawn(process.execPath, [fileURLToPath(new URL('./idp.mjs', import.meta.url))], {
  env: { ...process.env, IDP_PORT: '0' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let stderr = '';
idp.stderr.on('data', (d) => { stderr += d; });
const lines = createInterface({ input: idp.stdout });
const [first] = await Promise.race([
  once(lines, 'line'),
  sleep(10000).then(() => { throw new Error(`IdP did not start:\n${stderr}`); }),
]);
const startupMs = Math.round(performance.now() - t0);
const extraStdout = [];
lines.on('line', (l) => extraStdout.push(l));

let exitCode = 0;
try {
  ok(/^READY http:\/\/127\.0\.0\.1:\d+$/.test(first), `first stdout line is READY <issuer> (${first}, ${startupMs} ms after spawn)`);
  const issuer = first.slice('READY '.length);
  await run(issuer);
  ok(extraStdout.length === 0, 'nothing else was printed on stdout', extraStdout);
  console.log(`\nall ${passed} checks passed`);
} catch (err) {
  console.error(err);
  console.error('--- idp stderr ---\n' + stderr);
  exitCode = 1;
} finally {
  idp.kill('SIGTERM');
  const [code, signal] = await once(idp, 'exit');
  if (exitCode === 0) {
    if (code !== 0) {
      console.error(`FAIL: IdP exited with ${code} ${signal} on SIGTERM`);
      exitCode = 1;
    } else {
      console.log('ok   IdP exited 0 on SIGTERM');
    }
  }
}
process.exit(exitCode);

// --- helpers -----------------------------------------------------------------
async function form(url, params, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, body, headers: res.headers };
}

async function json(url, body, method = 'POST') {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: method === 'POST' ? JSON.stringify(body ?? {}) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

function decode(jwt) {
  const [h, p] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url')),
    payload: JSON.parse(Buffer.from(p, 'base64url')),
  };
}

// Verifies an RS256 JWT against a JWKS (what the plat server has to do).
function verifyJwt(jwt, jwks, { iss, aud }) {
  const { header, payload } = decode(jwt);
  if (header.alg !== 'RS256') return `alg ${header.alg}`;
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) return `unknown kid ${header.kid}`;
  const [h, p, s] = jwt.split('.');
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const valid = crypto.verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'));
  if (!valid) return 'bad signature';
  if (payload.iss !== iss) return `iss ${payload.iss}`;
  if (payload.aud !== aud) return `aud ${payload.aud}`;
  if (!(payload.exp > Date.now() / 1000)) return 'expired';
  return 'valid';
}

function pkcePair() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

// --- the checks --------------------------------------------------------------
async function run(issuer) {
  const disco = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  ok(disco.issuer === issuer, 'discovery issuer matches');
  ok(typeof disco.device_authorization_endpoint === 'string', `discovery lists device_authorization_endpoint (${disco.device_authorization_endpoint})`);
  ok(disco.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:device_code'), 'discovery lists the device_code grant type');
  ok(disco.jwks_uri === `${issuer}/jwks`, 'jwks_uri is <issuer>/jwks');
  const jwksNow = async () => (await fetch(disco.jwks_uri)).json();
  let jwks = await jwksNow();
  ok(jwks.keys.length === 1 && jwks.keys[0].kid && jwks.keys[0].kty === 'RSA' && !jwks.keys[0].d, 'JWKS has one public RSA key with a kid');

  const T = (path) => `${issuer}/test/${path}`;
  const deviceAuth = (extra = {}) => form(disco.device_authorization_endpoint, { client_id: CLIENT_ID, scope: SCOPE, ...extra });
  const poll = (device_code, extra = {}) => form(disco.token_endpoint, {
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code', client_id: CLIENT_ID, device_code, ...extra,
  });
  const refresh = (refresh_token) => form(disco.token_endpoint, { grant_type: 'refresh_token', client_id: CLIENT_ID, refresh_token });

  // 1. device authorization with PKCE
  const p1 = pkcePair();
  const da = await deviceAuth({ code_challenge: p1.challenge, code_challenge_method: 'S256' });
  ok(da.status === 200 && da.body.device_code && da.body.user_code, 'device authorization with code_challenge/S256 accepted', da);
  ok(da.body.verification_uri && da.body.verification_uri_complete && da.body.expires_in > 0, 'response has verification_uri(_complete) and expires_in');
  ok(da.body.interval === 1, 'response has interval 1');

  // 2. pending, then slow_down when polling faster than interval
  let r = await poll(da.body.device_code, { code_verifier: p1.verifier });
  ok(r.status === 400 && r.body.error === 'authorization_pending', 'poll before approval -> authorization_pending', r.body);
  r = await poll(da.body.device_code, { code_verifier: p1.verifier });
  ok(r.status === 400 && r.body.error === 'slow_down', 'poll again immediately -> slow_down', r.body);

  // 3. test routes: errors
  r = await json(T('approve'), { user_code: 'BCDF-GHJK', sub: 'alice' });
  ok(r.status === 404 && r.body.error === 'not_found', 'approve unknown user_code -> 404', r);
  r = await json(T('approve'), { user_code: da.body.user_code });
  ok(r.status === 400 && r.body.error === 'invalid_request', 'approve without sub -> 400', r);

  // 4. approve as alice (user code given in lower case without dash: normalized)
  r = await json(T('approve'), { user_code: da.body.user_code.toLowerCase().replace('-', ''), sub: 'alice', email: 'alice@acme.test' });
  ok(r.status === 200 && r.body.approved, 'POST /test/approve -> 200', r);
  r = await json(T('approve'), { user_code: da.body.user_code, sub: 'mallory' });
  ok(r.status === 409, 'approving twice -> 409', r);

  // 5. token
  await sleep(1000);
  const wrongVerifier = pkcePair().verifier;
  const daBad = await deviceAuth({ code_challenge: p1.challenge, code_challenge_method: 'S256' });
  await json(T('approve'), { user_code: daBad.body.user_code, sub: 'alice' });
  r = await poll(daBad.body.device_code, { code_verifier: wrongVerifier });
  ok(r.status === 400 && r.body.error === 'invalid_grant', 'wrong code_verifier -> invalid_grant', r.body);
  const daNoVer = await deviceAuth({ code_challenge: p1.challenge, code_challenge_method: 'S256' });
  await json(T('approve'), { user_code: daNoVer.body.user_code, sub: 'alice' });
  r = await poll(daNoVer.body.device_code);
  ok(r.status === 400 && r.body.error === 'invalid_grant', 'missing code_verifier -> invalid_grant', r.body);

  const tok = await poll(da.body.device_code, { code_verifier: p1.verifier });
  ok(tok.status === 200 && tok.body.token_type === 'Bearer', 'device_code + code_verifier -> tokens', tok.body);
  ok(typeof tok.body.refresh_token === 'string', 'refresh_token issued (offline_access)');
  ok(typeof tok.body.id_token === 'string', 'id_token issued');
  ok(tok.body.expires_in === 300, 'expires_in is 300 by default', tok.body.expires_in);
  const at = decode(tok.body.access_token);
  ok(at.header.alg === 'RS256' && at.header.kid === jwks.keys[0].kid, `access token is an RS256 JWT with the JWKS kid (typ ${at.header.typ})`, at.header);
  ok(at.payload.iss === issuer && at.payload.sub === 'alice' && at.payload.aud === AUD, 'access token iss/sub/aud', at.payload);
  ok(at.payload.exp - at.payload.iat === 300, 'access token exp = iat + 300');
  ok(at.payload.email === 'alice@acme.test' && at.payload.email_verified === true, 'access token carries email', at.payload);
  ok(at.payload.client_id === CLIENT_ID && at.payload.scope === SCOPE, 'access token client_id and scope', at.payload);
  console.log('     access token claims:', JSON.stringify(at.payload));
  ok(verifyJwt(tok.body.access_token, jwks, { iss: issuer, aud: AUD }) === 'valid', 'access token verifies with JWKS');
  const idt = decode(tok.body.id_token).payload;
  ok(idt.sub === 'alice' && idt.email === 'alice@acme.test' && idt.aud === CLIENT_ID, 'id_token has sub and email', idt);

  // 6. userinfo with the JWT access token
  const ui = await fetch(disco.userinfo_endpoint, { headers: { authorization: `Bearer ${tok.body.access_token}` } });
  const uiBody = await ui.json();
  ok(ui.status === 401 && uiBody.error === 'invalid_token', `userinfo rejects the JWT access token (aud set): ${ui.status} ${uiBody.error_description}`, uiBody);

  // 7. refresh (rotation; reuse of the old refresh token is rejected)
  r = await refresh(tok.body.refresh_token);
  ok(r.status === 200 && r.body.refresh_token && r.body.refresh_token !== tok.body.refresh_token, 'refresh -> new access + rotated refresh token', r.body);
  const at2 = decode(r.body.access_token).payload;
  ok(at2.aud === AUD && at2.sub === 'alice' && at2.email === 'alice@acme.test', 'refreshed access token is a JWT for urn:plat:api with email', at2);
  const rt2 = r.body.refresh_token;
  r = await refresh(rt2);
  ok(r.status === 200, 'refresh with the rotated refresh token works');
  const rt3 = r.body.refresh_token;

  // 8. second user, default e-mail
  const db = await deviceAuth();
  await json(T('approve'), { user_code: db.body.user_code, sub: 'bob' });
  const tokBob = await poll(db.body.device_code);
  ok(tokBob.status === 200, 'device flow without PKCE works (PKCE optional by default)', tokBob.body);
  const atBob = decode(tokBob.body.access_token).payload;
  ok(atBob.sub === 'bob' && atBob.email === 'bob@example.test', 'bob: sub bob, default email bob@example.test', atBob);

  // 8b. extra claims for a subject's next tokens: groups added, email left out
  r = await json(T('claims'), { sub: 'bob', claims: { groups: ['/acme/release'], email: null } });
  ok(r.status === 200, 'POST /test/claims -> 200', r);
  r = await json(T('claims'), { sub: 'bob', claims: { sub: 'eve' } });
  ok(r.status === 400, 'POST /test/claims refuses registered claims', r);
  const dc = await deviceAuth();
  await json(T('approve'), { user_code: dc.body.user_code, sub: 'bob' });
  const atClaims = decode((await poll(dc.body.device_code)).body.access_token).payload;
  ok(JSON.stringify(atClaims.groups) === '["/acme/release"]' && !('email' in atClaims) && atClaims.sub === 'bob',
    'the next token carries the groups claim and no email', atClaims);
  await json(T('claims'), { sub: 'bob', claims: {} });

  // 9. deny
  const dd = await deviceAuth();
  r = await json(T('deny'), { user_code: dd.body.user_code });
  ok(r.status === 200, 'POST /test/deny -> 200', r);
  r = await poll(dd.body.device_code);
  ok(r.status === 400 && r.body.error === 'access_denied', 'denied device code -> access_denied', r.body);

  // 10. expired device code
  await json(T('ttl'), { device_code_ttl: 1 });
  const de = await deviceAuth();
  ok(de.body.expires_in === 1, 'device_code_ttl applies to expires_in');
  await sleep(1500);
  r = await poll(de.body.device_code);
  ok(r.status === 400 && r.body.error === 'expired_token', 'expired device code -> expired_token', r.body);
  r = await json(T('approve'), { user_code: de.body.user_code, sub: 'alice' });
  ok(r.status === 410, 'approving an expired code -> 410', r);
  await json(T('ttl'), { device_code_ttl: 600 });

  // 11. access-token TTL and expiry
  r = await json(T('ttl'), { access_token_ttl: 2 });
  ok(r.status === 200 && r.body.access_token_ttl === 2, 'POST /test/ttl -> 200', r);
  r = await refresh(rt3);
  const short = r.body.access_token;
  const sp = decode(short).payload;
  ok(r.status === 200 && r.body.expires_in === 2 && sp.exp - sp.iat === 2, 'new access token lives 2 s', r.body);
  ok(verifyJwt(short, jwks, { iss: issuer, aud: AUD }) === 'valid', 'short token valid now');
  await sleep(2500);
  ok(verifyJwt(short, jwks, { iss: issuer, aud: AUD }) === 'expired', 'short token expired after 2.5 s');
  r = await refresh(r.body.refresh_token);
  ok(r.status === 200, 'refresh after access-token expiry works');
  let rt = r.body.refresh_token;
  await json(T('ttl'), { access_token_ttl: 300 });

  // 12. key rotation
  const oldKid = jwks.keys[0].kid;
  const oldToken = tok.body.access_token;
  r = await json(T('rotate-keys'), {});
  ok(r.status === 200 && r.body.kid !== oldKid && r.body.kids.length === 2, 'rotate-keys (keep_old default true)', r);
  jwks = await jwksNow();
  ok(jwks.keys.length === 2, 'JWKS now has 2 keys');
  r = await refresh(rt);
  ok(r.status === 200, 'refresh after rotation works (state survives rotation)', r.body);
  rt = r.body.refresh_token;
  let kid = decode(r.body.access_token).header.kid;
  ok(kid !== oldKid && jwks.keys.some((k) => k.kid === kid), 'new tokens signed with the new kid');
  ok(verifyJwt(r.body.access_token, jwks, { iss: issuer, aud: AUD }) === 'valid', 'new token verifies with refetched JWKS');
  ok(verifyJwt(oldToken, jwks, { iss: issuer, aud: AUD }) === 'valid', 'old token still verifies (old key kept)');
  r = await json(T('rotate-keys'), { keep_old: false });
  ok(r.status === 200 && r.body.kids.length === 1, 'rotate-keys keep_old=false', r);
  jwks = await jwksNow();
  ok(jwks.keys.length === 1 && jwks.keys[0].kid === r.body.kid, 'JWKS has only the newest key');
  ok(verifyJwt(oldToken, jwks, { iss: issuer, aud: AUD }) === `unknown kid ${oldKid}`, 'old token now has an unknown kid');
  r = await refresh(rt);
  rt = r.body.refresh_token;
  kid = decode(r.body.access_token).header.kid;
  ok(kid === jwks.keys[0].kid, 'tokens after keep_old=false use the newest kid');
  const dk = await deviceAuth();
  await json(T('approve'), { user_code: dk.body.user_code, sub: 'carol' });
  r = await poll(dk.body.device_code);
  ok(r.status === 200 && decode(r.body.id_token).header.kid === kid, 'device flow and id_token after rotation use the new key', r.body);
  const carolRt = r.body.refresh_token;
  r = await poll(dk.body.device_code);
  ok(r.status === 400 && r.body.error === 'invalid_grant', 'device code cannot be used twice', r.body);
  r = await refresh(carolRt);
  ok(r.status === 400 && r.body.error === 'invalid_grant', 'replaying a device code revokes its grant (refresh -> invalid_grant)', r.body);

  // 13. wrong-audience token on request
  const dw = await deviceAuth({ resource: 'urn:other:api' });
  await json(T('approve'), { user_code: dw.body.user_code, sub: 'alice' });
  r = await poll(dw.body.device_code);
  ok(r.status === 200 && decode(r.body.access_token).payload.aud === 'urn:other:api', 'resource=urn:other:api gives a token with aud urn:other:api', r.body);

  // 14. revoke refresh tokens of alice; bob unaffected
  r = await json(T('revoke-refresh'), { sub: 'alice' });
  ok(r.status === 200 && r.body.revoked_refresh_tokens >= 1, 'POST /test/revoke-refresh -> 200', r);
  r = await refresh(rt);
  ok(r.status === 400 && r.body.error === 'invalid_grant', 'alice refresh after revoke -> invalid_grant', r.body);
  r = await refresh(tokBob.body.refresh_token);
  ok(r.status === 200, 'bob refresh still works');

  // 15. forced slow_down
  const ds = await deviceAuth();
  r = await json(T('slow-down'), { user_code: ds.body.user_code, count: 1 });
  ok(r.status === 200, 'POST /test/slow-down -> 200');
  r = await poll(ds.body.device_code);
  ok(r.body.error === 'slow_down', 'forced slow_down on first poll', r.body);
  await sleep(1000);
  r = await poll(ds.body.device_code);
  ok(r.body.error === 'authorization_pending', 'then authorization_pending again', r.body);

  // 16. bad JSON on a test route
  const bad = await fetch(T('approve'), { method: 'POST', body: '{nope' });
  ok(bad.status === 400, 'malformed JSON on a test route -> 400');
}
