// Drives headless Chromium through real nginx in front of `spid-sp gateway` (started by
// tests/gateway.sh): browser → nginx → gateway → local test IdP → back → the Python echo
// upstream, in the two modes of docs/gateway.md: nginx proxying to the gateway (PROXY_URL)
// and nginx `auth_request /spid/auth` with the upstream behind nginx (AUTHREQ_URL).
// Nothing is intercepted or mocked. Writes the JWT the upstream received to
// $OUT/jwt-<mode>.txt (tests/gateway.sh verifies it with PyJWT). Screenshots:
// $OUT/NN-step.png. Prints "gateway-browser: N passed, M failed" last.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const OUT = process.env.OUT;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FISCAL = 'RSSMRA80A01H501U'; // the test IdP's citizen
const FAKE = 'FAKEFC00A01H501Z';

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail !== undefined ? ': ' + String(detail).slice(0, 400) : ''}`);
  }
}

let shot = 0;
async function screenshot(page, name) {
  shot++;
  await page.screenshot({ path: path.join(OUT, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

const offsite = [];
async function newBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'spid-sp-gw-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    locale: 'it-IT',
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

/// The value of `name:` in the echo upstream's answer (null when absent).
function echoed(body, name) {
  for (const line of body.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0 && line.slice(0, i).toLowerCase() === name.toLowerCase()) return line.slice(i + 1).trim();
  }
  return null;
}

async function body(page) {
  return (await page.locator('body').textContent({ timeout: 5000 }).catch(() => '')) || '';
}

/// From a protected page: chooser → test IdP → user/level → back on `until`.
async function loginVia(page, base, target, level, until) {
  await page.goto(`${base}${target}`);
  await page.waitForURL((u) => u.pathname === '/spid/select', { timeout: 10000 });
  // The chooser: "Entra con SPID" opens the list of IdPs.
  await page.getByText('Entra con SPID').first().click();
  const link = page.locator(`a[data-entity-id="${base}/test-idp"]`);
  await Promise.all([page.waitForURL(`${base}/test-idp/sso`), link.click()]);
  await idpLogin(page, level, until);
}

async function idpLogin(page, level, until) {
  await page.locator('input[name="user"][value="citizen"]').check();
  await page.locator(`input[name="level"][value="${level}"]`).check();
  await Promise.all([page.waitForURL(until, { timeout: 15000 }), page.locator('#login').click()]);
}

async function run(mode, base) {
  const b = await newBrowser();
  const page = await b.context.newPage();
  try {
    // The application's own cookie, which must reach it (and the gateway's must not).
    await b.context.addCookies([{ name: 'app_pref', value: 'keep', url: base }]);
    // 1. A protected page without a session: the chooser, the test IdP, back on the page.
    await loginVia(page, base, '/hello?x=1', '2', `${base}/hello?x=1`);
    let text = await body(page);
    await screenshot(page, `${mode}-upstream-after-login`);
    check(`${mode}: login lands on the page asked for, the upstream shows the fiscal code`,
      echoed(text, 'X-Spid-Fiscal-Code') === FISCAL && text.startsWith('GET /hello?x=1'), text);
    check(`${mode}: the upstream gets level 2 and the IdP`,
      echoed(text, 'X-Spid-Level') === '2' && echoed(text, 'X-Spid-Idp') === `${base}/test-idp`, text);
    const jwt = echoed(text, 'X-Spid-Jwt');
    check(`${mode}: the upstream gets a JWT`, jwt && jwt.split('.').length === 3, text);
    if (jwt) fs.writeFileSync(path.join(OUT, `jwt-${mode}.txt`), jwt);
    check(`${mode}: the upstream verified the JWT with PyJWT (echo.py --jwks)`,
      (echoed(text, 'jwt') || '').startsWith(`valid sub=${FISCAL}`), echoed(text, 'jwt'));
    const cookie = echoed(text, 'Cookie') || '';
    check(`${mode}: the gateway's cookies never reach the upstream, the application's does`,
      !/spid_/.test(cookie) && /(^|; ?)app_pref=keep(;|$)/.test(cookie), cookie);

    // 2. Spoofed identity headers sent by the browser, with a session.
    await page.setExtraHTTPHeaders({ 'X-Spid-Fiscal-Code': FAKE, 'X-Spid-Level': '3', 'X-Spid-Jwt': 'a.b.c' });
    await page.goto(`${base}/hello`);
    text = await body(page);
    check(`${mode}: spoofed headers (with a session) replaced by the verified identity`,
      echoed(text, 'X-Spid-Fiscal-Code') === FISCAL && echoed(text, 'X-Spid-Level') === '2'
        && !text.includes(FAKE) && echoed(text, 'X-Spid-Jwt') !== 'a.b.c', text);

    // 3. Step-up: /l3 asks for SpidL3 at the same IdP, back to /l3.
    await page.setExtraHTTPHeaders({});
    await page.goto(`${base}/l3/area`);
    await page.waitForURL(`${base}/test-idp/sso`, { timeout: 10000 });
    const requested = (await page.locator('#requested-level').textContent()) || '';
    check(`${mode}: /l3 steps up: the test IdP is asked for SpidL3`, requested.startsWith('SpidL3'), requested);
    await idpLogin(page, '3', `${base}/l3/area`);
    text = await body(page);
    await screenshot(page, `${mode}-l3-after-step-up`);
    check(`${mode}: after step-up the upstream gets level 3 on /l3/area`,
      echoed(text, 'X-Spid-Level') === '3' && echoed(text, 'X-Spid-Fiscal-Code') === FISCAL, text);

    // 4. Logout: a same-origin form POST to /spid/logout (single logout at the test IdP).
    await page.goto(`${base}/public/`);
    await page.evaluate(() => {
      const f = document.createElement('form');
      f.method = 'post';
      f.action = '/spid/logout';
      document.body.appendChild(f);
      f.submit();
    });
    await page.waitForLoadState('load');
    await page.waitForTimeout(500);
    await page.goto(`${base}/hello`);
    await page.waitForLoadState('load');
    const after = new URL(page.url());
    await screenshot(page, `${mode}-after-logout`);
    check(`${mode}: after logout the protected page asks for a login again`,
      after.pathname === '/spid/select', page.url());
  } catch (e) {
    check(`${mode}: browser flow finished`, false, e.message);
  } finally {
    await b.close();
  }

  // 5. No session, spoofed headers on a public path: nothing reaches the upstream.
  const c = await newBrowser();
  try {
    const p = await c.context.newPage();
    await p.setExtraHTTPHeaders({ 'X-Spid-Fiscal-Code': FAKE, 'x-spid-level': '3', 'X-SPID-Session': 'f'.repeat(32) });
    await p.goto(`${base}/public/page`);
    const text = await body(p);
    check(`${mode}: spoofed headers without a session never reach the upstream (public path)`,
      text.startsWith('GET /public/page') && !text.includes(FAKE) && echoed(text, 'X-Spid-Level') === null
        && echoed(text, 'X-Spid-Session') === null, text);
    await p.goto(`${base}/hello`);
    check(`${mode}: spoofed headers without a session do not open a protected page`,
      new URL(p.url()).pathname === '/spid/select', p.url());
  } catch (e) {
    check(`${mode}: spoof flow finished`, false, e.message);
  } finally {
    await c.close();
  }
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  await run('proxy', process.env.PROXY_URL);
  await run('auth_request', process.env.AUTHREQ_URL);
  check('nothing left 127.0.0.1', offsite.length === 0, offsite.join(' '));
  console.log(`gateway-browser: ${passed} passed, ${failed} failed`);
}

main().catch((e) => {
  console.log(`FAIL crashed: ${e.stack}`);
  console.log(`gateway-browser: ${passed} passed, ${failed + 1} failed`);
  process.exitCode = 1;
});
