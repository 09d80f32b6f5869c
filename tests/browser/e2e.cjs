// Drives headless Chromium through the demo SP and its local test IdP (started by
// tests/e2e.sh, embedded defaults). Nothing is intercepted or mocked: every page, form,
// redirect and signature is the demo's or the test IdP's own.
// Screenshots: $OUT/NN-step.png. Prints "e2e-browser: N passed, M failed" last.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const BASE = process.env.DEMO_URL; // http://127.0.0.1:PORT
const OUT = process.env.OUT; // target/e2e
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const IDP = `${BASE}/test-idp`; // the test IdP's entityID and base URL
const LABEL = 'TEST — not an accredited identity provider';

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail !== undefined ? ': ' + detail : ''}`);
  }
}

let shot = 0;
async function screenshot(page, name) {
  shot++;
  const file = path.join(OUT, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

async function text(page, selector) {
  return (await page.locator(selector).first().textContent({ timeout: 5000 }).catch(() => null)) || '';
}

/// Every test IdP page carries the label.
async function checkLabel(page, where) {
  check(`test IdP page carries the TEST label (${where})`, (await text(page, '.test-banner')).trim() === LABEL);
}

/// Status of the last response for `url` (pathname match), observed while `action` runs.
async function statusOf(page, pathname, action) {
  let status = null;
  const onResponse = (r) => {
    if (new URL(r.url()).pathname === pathname) status = r.status();
  };
  page.on('response', onResponse);
  try {
    await action();
  } finally {
    page.off('response', onResponse);
  }
  return status;
}

/// On the test IdP's login form: pick a user and level, press "Accedi", wait for `until`.
async function idpLogin(page, user, level, until) {
  await page.locator(`input[name="user"][value="${user}"]`).check();
  await page.locator(`input[name="level"][value="${level}"]`).check();
  await Promise.all([page.waitForURL(until), page.locator('#login').click()]);
}

// Nothing may leave 127.0.0.1: any other host is a failure.
const offsite = [];

/// A fresh browser (own profile, cookies and test IdP session) whose Accept-Language is
/// that of `locale` (Chromium's default would be en-US: every run sets it explicitly).
async function newBrowser(locale) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'spid-sp-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    locale,
    viewport: { width: 1000, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  await context.route((u) => u.hostname !== '127.0.0.1', (route) => {
    offsite.push(route.request().url());
    route.abort();
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/// Starts a login at the test IdP and refuses it with ErrorCode nr22: the ACS status.
async function refuseConsent(page) {
  await page.goto(`${BASE}/spid/login?idp=${encodeURIComponent(IDP)}`);
  await page.waitForURL(`${IDP}/sso`);
  await page.locator('#code').selectOption('22');
  return statusOf(page, '/spid/acs', async () => {
    await Promise.all([page.waitForURL(`${BASE}/spid/acs`), page.locator('#refuse').click()]);
    await page.waitForLoadState('load');
  });
}

const IT_NR22 = 'Senza il consenso';
const EN_NR22 = 'Without your consent';

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  // An Italian browser (Accept-Language: it-IT): the pages' default language.
  const italian = await newBrowser('it-IT');
  const context = italian.context;
  let page = await context.newPage();

  // 1. Home page → "Entra con SPID": the test IdP is listed first.
  let res = await page.goto(`${BASE}/`);
  check('home page answers 200', res && res.status() === 200);
  await page.getByText('Entra con SPID').click();
  const testIdpLink = page.locator(`a[data-entity-id="${IDP}"]`);
  check('SPID list shows "Test IdP (local)"',
    (await testIdpLink.locator('.spid-sp-idp-name').textContent()) === 'Test IdP (local)');
  check('the test IdP is first in the list',
    (await page.locator('ul.spid-sp-idps li a').first().getAttribute('data-entity-id')) === IDP);
  await screenshot(page, 'home-spid-list');

  // 2. → the test IdP's login form (HTTP-POST AuthnRequest, verified against the SP metadata).
  await Promise.all([page.waitForURL(`${IDP}/sso`), testIdpLink.click()]);
  await checkLabel(page, 'login form');
  check('login form shows the requesting SP', (await text(page, '#sp')).trim() === BASE);
  check('login form shows the requested level', (await text(page, '#requested-level')).startsWith('SpidL2'));
  check('login form lists the requested attributes',
    (await text(page, '#requested-attributes')).includes('fiscalNumber'));
  check('four test users offered', (await page.locator('input[name="user"]').count()) === 4);
  await screenshot(page, 'test-idp-login-form');

  // 3. Citizen at SpidL2 → back on the demo with the fiscal code and level.
  await idpLogin(page, 'citizen', '2', `${BASE}/me`);
  check('logged in: fiscal code shown', (await text(page, '#codice-fiscale')) === 'RSSMRA80A01H501U',
    await text(page, 'main'));
  check('logged in: level SpidL2', (await text(page, '#livello-spid')) === 'SpidL2');
  check('logged in: identity provider is the test IdP',
    (await text(page, '#gestore-dell-identit-')) === 'Test IdP (local)');
  check('logged in: requested attributes received', (await page.locator('tbody tr').count()) === 5);
  await screenshot(page, 'logged-in');

  // 4. A SpidL3-only page: step-up through the test IdP, which is asked for SpidL3.
  await Promise.all([page.waitForURL(`${IDP}/sso`), page.getByText(/Area riservata/).click()]);
  check('step-up: the test IdP is asked for SpidL3', (await text(page, '#requested-level')).startsWith('SpidL3'));
  await screenshot(page, 'step-up-form');
  await idpLogin(page, 'citizen', '3', `${BASE}/area-l3`);
  check('step-up: the SpidL3 page is shown', (await text(page, '.ok')).includes('livello 3'));
  await screenshot(page, 'area-l3');
  await page.goto(`${BASE}/me`);
  check('step-up: session now at SpidL3', (await text(page, '#livello-spid')) === 'SpidL3');

  // 5. Logout through SLO: LogoutRequest to the test IdP (HTTP-Redirect), whose
  // LogoutResponse comes back to the demo's /spid/slo, which lands on the home page.
  const sloSeen = [];
  const onSlo = (r) => {
    const u = new URL(r.url());
    if (u.pathname.endsWith('/slo')) sloSeen.push(`${u.pathname}?${[...u.searchParams.keys()].join(',')}`);
  };
  page.on('request', onSlo);
  await Promise.all([page.waitForURL(`${BASE}/`), page.getByRole('button', { name: 'Esci' }).click()]);
  page.off('request', onSlo);
  check('logout: LogoutRequest reached the test IdP',
    sloSeen.some((s) => s.startsWith('/test-idp/slo?SAMLRequest')), sloSeen.join(' '));
  check('logout: LogoutResponse came back to the demo',
    sloSeen.some((s) => s.startsWith('/spid/slo?SAMLResponse')), sloSeen.join(' '));
  check('logout: home page no longer says logged in', !(await page.locator('p.ok').count()));
  await screenshot(page, 'logged-out');
  await page.goto(`${IDP}/`);
  check('logout: the test IdP closed its session', (await page.getByText('Nessuna sessione.').count()) === 1);

  // 6. The protected pages are refused again (sent to the login page).
  await page.goto(`${BASE}/me`);
  check('after logout /me is refused (login page)', new URL(page.url()).pathname === '/', page.url());
  await page.goto(`${BASE}/area-l3`);
  check('after logout /area-l3 is refused (login page)', new URL(page.url()).pathname === '/', page.url());
  await screenshot(page, 'protected-refused');

  // 7. A refusal: the user denies consent (ErrorCode nr22) → courtesy page, HTTP 401,
  // in Italian only (this browser asks for it-IT).
  const acsStatus = await refuseConsent(page);
  check('refusal nr22: HTTP error status 401', acsStatus === 401, String(acsStatus));
  check('refusal nr22: courtesy text shown in Italian', (await text(page, '.error')).includes(IT_NR22),
    await text(page, '.error'));
  check('refusal nr22: Italian only (no English text, lang="it")',
    !(await text(page, 'main')).includes(EN_NR22) &&
    (await page.locator('html').getAttribute('lang')) === 'it');
  check('refusal nr22: SPID error code shown', (await text(page, '#error-code')) === 'ErrorCode nr22');
  await screenshot(page, 'refusal-nr22');

  // 8. HTTP-Redirect binding: the test IdP verifies the query signature; a professional.
  await page.goto(`${BASE}/spid/login?idp=${encodeURIComponent(IDP)}&binding=redirect`);
  await page.waitForURL((u) => u.pathname === '/test-idp/sso');
  check('HTTP-Redirect AuthnRequest accepted by the test IdP', (await text(page, 'main')).includes('HTTP-Redirect'));
  await checkLabel(page, 'redirect login form');
  await idpLogin(page, 'professional', '2', `${BASE}/me`);
  check('HTTP-Redirect login: professional logged in',
    (await text(page, '#codice-fiscale')) === 'BNCLRA85M41F205C', await text(page, 'main'));
  await screenshot(page, 'redirect-binding-login');

  // 9. IdP-initiated logout over HTTP-POST: LogoutRequest to the demo, LogoutResponse back.
  await page.goto(`${IDP}/`);
  await checkLabel(page, 'index');
  await Promise.all([
    page.waitForURL(`${IDP}/slo`),
    page.getByRole('button', { name: 'Esci (HTTP-POST)' }).first().click(),
  ]);
  check('IdP-initiated logout: the demo answered Success',
    (await text(page, '#slo-result')).includes('Success'), await text(page, 'main'));
  await checkLabel(page, 'logout result');
  await screenshot(page, 'idp-initiated-logout');
  await page.goto(`${BASE}/me`);
  check('after IdP-initiated logout /me is refused', new URL(page.url()).pathname === '/', page.url());

  // 10. The foreign eIDAS user has no fiscal code, and the SPID profile does not request
  // spidCode: the SDK refuses a login without identity key.
  await page.goto(`${BASE}/spid/login?idp=${encodeURIComponent(IDP)}`);
  await page.waitForURL(`${IDP}/sso`);
  const eidasStatus = await statusOf(page, '/spid/acs', async () => {
    await idpLogin(page, 'eidas', '2', `${BASE}/spid/acs`);
    await page.waitForLoadState('load');
  });
  check('eIDAS user without a requested identifier: refused (403)', eidasStatus === 403, String(eidasStatus));
  check('eIDAS user: reason identity-key-missing', (await text(page, '#error-code')) === 'identity-key-missing',
    await text(page, '#error-code'));

  // 11. The test IdP refuses what an IdP must refuse.
  let r = await page.request.post(`${IDP}/sso`, { form: { SAMLRequest: 'bm90IHhtbA==', RelayState: 'x' } });
  check('test IdP: garbage AuthnRequest refused (400)', r.status() === 400, String(r.status()));
  r = await page.request.get(`${IDP}/sso?SAMLRequest=abc`);
  check('test IdP: unsigned Redirect AuthnRequest refused (400)', r.status() === 400, String(r.status()));
  r = await page.request.post(`${IDP}/login`, { form: { token: 'f'.repeat(32), user: 'citizen', outcome: 'login' } });
  check('test IdP: unknown login form token refused (400)', r.status() === 400, String(r.status()));
  r = await page.request.get(`${IDP}/metadata`);
  check('test IdP metadata carries the test marker', (await r.text()).includes('urn:x-spid-sp:test-idp'));

  await italian.close();

  // 12. The login page's `next`: a protected page visited without a session sends the
  // user to the login page with `?next=`, and the login through the test IdP (at the
  // page's level, SpidL3) lands back on that page.
  const fresh = await newBrowser('it-IT');
  page = await fresh.context.newPage();
  await page.goto(`${BASE}/area-l3`);
  const login = new URL(page.url());
  check('next: /area-l3 without a session → the login page with next=/area-l3',
    login.pathname === '/' && login.searchParams.get('next') === '/area-l3', page.url());
  await page.getByText('Entra con SPID').click();
  const link = page.locator(`ul.spid-sp-idps a[data-entity-id="${IDP}"]`);
  check('next: the IdP links carry next=/area-l3',
    new URL(await link.getAttribute('href'), BASE).searchParams.get('next') === '/area-l3',
    await link.getAttribute('href'));
  await Promise.all([page.waitForURL(`${IDP}/sso`), link.click()]);
  await idpLogin(page, 'citizen', '3', (u) => u.origin === BASE && ['/', '/me', '/area-l3'].includes(u.pathname));
  check('next: after the login the browser is back on /area-l3', page.url() === `${BASE}/area-l3`, page.url());
  check('next: the SpidL3 page is shown', (await text(page, '.ok')).includes('livello 3'), await text(page, 'main'));
  await screenshot(page, 'next-area-l3');
  await fresh.close();

  // 13. An English browser (Accept-Language: en-GB): the courtesy page in English only.
  const english = await newBrowser('en-GB');
  page = await english.context.newPage();
  const enStatus = await refuseConsent(page);
  check('English browser: refusal nr22 still 401', enStatus === 401, String(enStatus));
  check('English browser: courtesy text in English', (await text(page, '.error')).includes(EN_NR22),
    await text(page, '.error'));
  check('English browser: English only (no Italian text, lang="en")',
    !(await text(page, 'main')).includes(IT_NR22) &&
    (await page.locator('html').getAttribute('lang')) === 'en');
  check('English browser: SPID error code shown', (await text(page, '#error-code')) === 'ErrorCode nr22');
  await screenshot(page, 'refusal-nr22-en');
  await english.close();

  check('no request left 127.0.0.1', offsite.length === 0, offsite.join(' '));
}

main()
  .catch((e) => {
    failed++;
    console.log(`FAIL unexpected error: ${e && e.stack ? e.stack : e}`);
  })
  .finally(() => {
    console.log(`e2e-browser: ${passed} passed, ${failed} failed`);
    process.exit(failed === 0 ? 0 : 1);
  });
