// Drives headless Chromium through the demo SP (started by tests/browser.sh):
//  1. home page → "Entra con SPID" → pick a registry IdP → the browser leaves for that IdP
//     with a signed AuthnRequest (HTTP-POST: xmlsec1 verifies it; HTTP-Redirect: openssl
//     verifies the query signature). No internet: the IdP hosts are intercepted.
//  2. a login through a local test IdP whose page posts the Response back cross-site:
//     the session is created with Chromium's default cookie settings (SameSite=Lax) and
//     survives reloads; a step-up to SpidL3 through the IdP keeps working.
//  3. a forged RelayState, and `next` pointing off-site, never leave the SP's origin.
// Prints "browser: N passed, M failed" last; exit status 1 on any failure.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { chromium } = require('playwright-core');

const BASE = process.env.DEMO_URL;                 // http://127.0.0.1:PORT
const SIGNER = process.env.SIGNER;                 // target/debug/examples/sign-response
const IDP_DIR = process.env.IDP_DIR;               // the test IdP's key pair
const TEST_IDP = process.env.TEST_IDP;             // its entityID
const TEST_IDP_HOST = process.env.TEST_IDP_HOST;   // http://idp.browser.test (its SSO host)
const SP_CERT = process.env.SP_CERT;               // the demo SP certificate (PEM)
const OUT = process.env.OUT;                       // target/browser
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const REGISTRY_IDP = 'https://posteid.poste.it';    // any IdP of metadata/spid-entities-idps.xml

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`);
  }
}

function b64decode(s) {
  return Buffer.from(s, 'base64').toString('utf8');
}

function attr(xml, name) {
  const m = xml.match(new RegExp(`\\s${name}="([^"]*)"`));
  return m ? m[1] : null;
}

/// xmlsec1 verifies the enveloped signature of a POSTed AuthnRequest with the SP cert.
function xmlsecVerify(xml) {
  const f = path.join(OUT, 'authn-request.xml');
  fs.writeFileSync(f, xml);
  try {
    execFileSync('xmlsec1', ['--verify', '--pubkey-cert-pem', SP_CERT,
      '--id-attr:ID', 'urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest', f], { stdio: 'pipe' });
    return true;
  } catch (e) {
    console.log(String(e.stderr || e));
    return false;
  }
}

/// openssl verifies an HTTP-Redirect query signature (SAMLRequest&RelayState&SigAlg as sent).
function opensslVerifyQuery(query) {
  const parts = query.split('&');
  const signed = parts.filter((p) => !p.startsWith('Signature=')).join('&');
  const sig = parts.find((p) => p.startsWith('Signature='));
  if (!sig) return false;
  const sigBytes = Buffer.from(decodeURIComponent(sig.slice(10).replace(/\+/g, ' ')), 'base64');
  const pub = path.join(OUT, 'sp.pub.pem');
  execFileSync('openssl', ['x509', '-in', SP_CERT, '-pubkey', '-noout', '-out', pub]);
  fs.writeFileSync(path.join(OUT, 'redirect.signed'), signed);
  fs.writeFileSync(path.join(OUT, 'redirect.sig'), sigBytes);
  try {
    execFileSync('openssl', ['dgst', '-sha256', '-verify', pub, '-signature',
      path.join(OUT, 'redirect.sig'), path.join(OUT, 'redirect.signed')], { stdio: 'pipe' });
    return true;
  } catch (e) {
    return false;
  }
}

/// The test IdP's answer page: an auto-submitting form to the SP's ACS (cross-site POST).
function answerPage(fields) {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${String(v).replace(/"/g, '&quot;')}">`)
    .join('');
  return `<!DOCTYPE html><html><body><form id="f" method="post" action="${BASE}/spid/acs">${inputs}` +
    `<button type="submit">Continua</button></form><script>document.getElementById('f').submit()</script></body></html>`;
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'spid-sp-chromium-'));
  // Accept-Language it-IT (Chromium's default would be en-US): the Italian pages.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    locale: 'it-IT',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const offsite = [];
  await context.route(/^https?:\/\/([^/]*\.)?evil\.example(\/|$)/, (route) => {
    offsite.push(route.request().url());
    route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>evil</h1>' });
  });

  // What the intercepted IdPs received, and how the test IdP answers the next request.
  let registryHit = null;
  await context.route((u) => u.origin === REGISTRY_IDP, async (route) => {
    const req = route.request();
    registryHit = { method: req.method(), url: req.url(), body: req.postData() };
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>IdP (intercepted)</h1>' });
  });
  let idpMode = { kind: 'ok' };
  const idpSeen = [];
  await context.route((u) => u.origin === TEST_IDP_HOST, async (route) => {
    const req = route.request();
    if (new URL(req.url()).pathname !== '/sso') {
      // Single logout and anything else: a plain page (this test IdP keeps no session).
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>IdP: logged out</h1>' });
      return;
    }
    const form = new URLSearchParams(req.postData() || '');
    const xml = b64decode(form.get('SAMLRequest') || '');
    const id = attr(xml, 'ID');
    const levelMatch = xml.match(/SpidL([123])/);
    const level = levelMatch ? levelMatch[1] : '2';
    idpSeen.push({ id, level, relay: form.get('RelayState') });
    const acs = `${BASE}/spid/acs`;
    const samlResponse = (idpMode.kind === 'refusal'
      ? execFileSync(SIGNER, ['refusal', IDP_DIR, TEST_IDP, id, acs, idpMode.code])
      : execFileSync(SIGNER, ['response', IDP_DIR, TEST_IDP, id, acs, BASE, level,
        'fiscalNumber=TINIT-RSSMRA80A01H501U', 'name=Mario', 'familyName=Rossi', 'dateOfBirth=1980-01-01',
        'email=mario.rossi@example.it'])).toString().trim();
    const relay = idpMode.kind === 'forged-relay' ? idpMode.relay : form.get('RelayState');
    await route.fulfill({ status: 200, contentType: 'text/html',
      body: answerPage({ SAMLResponse: samlResponse, RelayState: relay }) });
  });

  let page = await context.newPage();

  // 1. Home page → SPID list → a registry IdP, HTTP-POST binding.
  let res = await page.goto(`${BASE}/`);
  check('home page answers 200', res && res.status() === 200);
  const spidButton = page.getByText('Entra con SPID');
  const idpLink = page.locator(`a[data-entity-id="${REGISTRY_IDP}"]`);
  check('IdP list hidden until the SPID button is opened', !(await idpLink.isVisible()));
  await spidButton.click();
  check('SPID button opens the IdP list', await idpLink.isVisible());
  // The spid-public profile has no attribute service 99/100: no eIDAS button.
  check('CIE button present, eIDAS button absent (spid-public cannot use the eIDAS node)',
    (await page.getByText('Entra con CIE').count()) === 1 && (await page.getByText('Login with eIDAS').count()) === 0);
  await page.screenshot({ path: path.join(OUT, 'home-spid-list.png'), fullPage: true });
  await Promise.all([page.waitForURL((u) => u.origin === REGISTRY_IDP), idpLink.click()]);
  check('browser sent to the chosen IdP', registryHit !== null, JSON.stringify(registryHit));
  if (registryHit) {
    check('HTTP-POST to the IdP SSO endpoint', registryHit.method === 'POST' &&
      registryHit.url === 'https://posteid.poste.it/jod-fs/ssoservicepost', registryHit.url);
    const form = new URLSearchParams(registryHit.body || '');
    const xml = b64decode(form.get('SAMLRequest') || '');
    check('AuthnRequest addressed to the IdP', attr(xml, 'Destination') === registryHit.url, attr(xml, 'Destination'));
    check('AuthnRequest issued by the demo SP', xml.includes(`>${BASE}</saml:Issuer>`));
    check('AuthnRequest signature verifies with xmlsec1', xmlsecVerify(xml));
    check('RelayState is an opaque token', /^[0-9a-f]{32}$/.test(form.get('RelayState') || ''));
  }
  await page.screenshot({ path: path.join(OUT, 'idp-intercepted.png') });

  // 1b. The same IdP with the HTTP-Redirect binding. Chromium follows the 302 itself
  // (redirect hops are not routed), so the request is observed as it leaves; the IdP host
  // does not resolve offline and the navigation then fails, as expected.
  registryHit = null;
  const onRequest = (r) => {
    if (!registryHit && new URL(r.url()).origin === REGISTRY_IDP) {
      registryHit = { method: r.method(), url: r.url() };
    }
  };
  page.on('request', onRequest);
  await page.goto(`${BASE}/spid/login?idp=${encodeURIComponent(REGISTRY_IDP)}&binding=redirect`).catch(() => {});
  page.off('request', onRequest);
  check('HTTP-Redirect: browser sent to the IdP', registryHit !== null && registryHit.method === 'GET');
  if (registryHit) {
    const [endpoint, query] = registryHit.url.split('?');
    check('HTTP-Redirect: to the IdP redirect SSO endpoint',
      endpoint === 'https://posteid.poste.it/jod-fs/ssoserviceredirect', endpoint);
    check('HTTP-Redirect: SAMLRequest, RelayState, SigAlg, Signature in the query',
      ['SAMLRequest=', 'RelayState=', 'SigAlg=', 'Signature='].every((p) => (query || '').includes(p)));
    check('HTTP-Redirect: query signature verifies with openssl', opensslVerifyQuery(query || ''));
  }

  // 2. Login through the test IdP: cross-site POST back, default cookie settings.
  await page.close();
  page = await context.newPage();
  await page.goto(`${BASE}/`);
  await page.getByText('Entra con SPID').click();
  await Promise.all([
    page.waitForURL(`${BASE}/me`),
    page.locator(`a[data-entity-id="${TEST_IDP}"]`).click(),
  ]);
  const cf = await page.locator('#codice-fiscale').textContent().catch(() => null);
  check('login completes after the IdP posts back cross-site', cf === 'RSSMRA80A01H501U', `${page.url()} ${cf}`);
  check('the IdP page was on another site', idpSeen.length === 1 && new URL(TEST_IDP_HOST).host !== new URL(BASE).host);
  const cookies = await context.cookies(BASE);
  const sessionCookie = cookies.find((c) => c.name === 'spid_session');
  check('session cookie is HttpOnly and SameSite=Lax',
    sessionCookie && sessionCookie.httpOnly && sessionCookie.sameSite === 'Lax', JSON.stringify(sessionCookie));
  await page.screenshot({ path: path.join(OUT, 'logged-in.png'), fullPage: true });
  res = await page.reload();
  check('session survives a reload', res.status() === 200 &&
    (await page.locator('#codice-fiscale').textContent()) === 'RSSMRA80A01H501U');
  check('level shown', (await page.locator('#livello-spid').textContent()) === 'SpidL2');

  // 2b. Step-up to SpidL3: the guard sends the user back to the IdP; the POST back lands
  // on the guarded page with the upgraded session.
  await Promise.all([page.waitForURL(`${BASE}/area-l3`), page.getByText(/Area riservata/).click()]);
  const stepUp = idpSeen[idpSeen.length - 1];
  check('step-up asks the same IdP for SpidL3', idpSeen.length === 2 && stepUp.level === '3', JSON.stringify(stepUp));
  check('step-up lands on the guarded page', (await page.locator('.ok').textContent() || '').includes('livello 3'));

  // 3. A forged RelayState: the IdP page posts a valid Response with a URL as RelayState.
  idpMode = { kind: 'forged-relay', relay: 'https://evil.example/phish' };
  let acsStatus = null;
  const onResponse = (r) => { if (r.url() === `${BASE}/spid/acs`) acsStatus = r.status(); };
  page.on('response', onResponse);
  await page.goto(`${BASE}/spid/login?idp=${encodeURIComponent(TEST_IDP)}`);
  await page.waitForLoadState('load');
  await page.waitForURL(`${BASE}/spid/acs`);
  page.off('response', onResponse);
  check('forged RelayState is rejected with an error status', acsStatus === 403, String(acsStatus));
  check('forged RelayState stays on the SP', new URL(page.url()).host === new URL(BASE).host, page.url());
  check('error page shows the reason', (await page.locator('#error-code').textContent()) === 'relay-state');
  await page.screenshot({ path: path.join(OUT, 'forged-relay-state.png'), fullPage: true });

  // 3a. The IdP refuses (user denied consent, ErrorCode nr22): courtesy page, 401.
  idpMode = { kind: 'refusal', code: '22' };
  acsStatus = null;
  page.on('response', onResponse);
  await page.goto(`${BASE}/spid/login?idp=${encodeURIComponent(TEST_IDP)}`);
  await page.waitForURL(`${BASE}/spid/acs`);
  await page.waitForLoadState('load');
  page.off('response', onResponse);
  check('IdP refusal answers 401', acsStatus === 401, String(acsStatus));
  check('IdP refusal shows the courtesy text, in Italian only',
    (await page.locator('.error').textContent() || '').includes('Senza il consenso') &&
    !(await page.locator('main').textContent() || '').includes('Without your consent'));
  check('IdP refusal shows the SPID error code', (await page.locator('#error-code').textContent()) === 'ErrorCode nr22');
  await page.screenshot({ path: path.join(OUT, 'refusal-nr22.png'), fullPage: true });

  // 3b. `next` pointing off-site is replaced by the default landing page.
  idpMode = { kind: 'ok' };
  for (const next of ['https://evil.example/', '//evil.example/x', '/\\evil.example']) {
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/me' || u.host.includes('evil')),
      page.goto(`${BASE}/spid/login?idp=${encodeURIComponent(TEST_IDP)}&next=${encodeURIComponent(next)}`),
    ]);
    check(`next=${next} lands on the SP`, page.url() === `${BASE}/me`, page.url());
  }
  check('no request ever reached the off-site host', offsite.length === 0, offsite.join(' '));

  // 4. Logout: the session closes and the browser leaves for the IdP's SLO endpoint with
  // a LogoutRequest (observed as it leaves: the redirect hop is not routed).
  let sloHit = null;
  const onSlo = (r) => {
    if (!sloHit && new URL(r.url()).origin === TEST_IDP_HOST) sloHit = r.url();
  };
  page.on('request', onSlo);
  await page.goto(`${BASE}/me`);
  await page.getByRole('button', { name: 'Esci' }).click();
  for (let i = 0; i < 50 && !sloHit; i++) await new Promise((r) => setTimeout(r, 100));
  page.off('request', onSlo);
  check('logout sends a LogoutRequest to the IdP', !!sloHit && sloHit.includes('/slo?SAMLRequest='), sloHit);
  await page.close();
  page = await context.newPage();
  await page.goto(`${BASE}/me`);
  check('after logout /me sends to the login page', new URL(page.url()).pathname === '/', page.url());

  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}

main()
  .catch((e) => {
    failed++;
    console.log(`FAIL unexpected error: ${e && e.stack ? e.stack : e}`);
  })
  .finally(() => {
    console.log(`browser: ${passed} passed, ${failed} failed`);
    process.exit(failed === 0 ? 0 : 1);
  });
