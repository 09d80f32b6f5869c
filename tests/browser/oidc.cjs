// Drives headless Chromium through the demo SP's OpenID Connect login (started by
// tests/oidc.sh): home → "Entra con CIE (OpenID Connect)" → the local test OP (auto
// approve) → back with the fiscal code → logout. Nothing leaves 127.0.0.1.
// Prints "oidc-browser: N passed, M failed" last.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const BASE = process.env.DEMO_URL;
const OUT = process.env.OUT;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

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

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'spid-sp-oidc-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    locale: 'it-IT',
    viewport: { width: 1000, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const offsite = [];
  await context.route((u) => u.hostname !== '127.0.0.1', (route) => {
    offsite.push(route.request().url());
    route.abort();
  });
  const page = context.pages()[0] || (await context.newPage());
  const visited = [];
  page.on('request', (r) => {
    if (r.isNavigationRequest()) visited.push(new URL(r.url()).pathname);
  });
  try {
    await page.goto(`${BASE}/`);
    const button = page.locator('#oidc-login');
    check('home shows "Entra con CIE (OpenID Connect)"',
      ((await button.textContent({ timeout: 5000 })) || '').includes('Entra con CIE (OpenID Connect)'));
    await page.screenshot({ path: path.join(OUT, '01-home.png'), fullPage: true });
    await Promise.all([page.waitForURL(`${BASE}/me`), button.click()]);
    const me = (await page.textContent('main')) || '';
    check('back on /me with the fiscal code', me.includes('RSSMRA80A01H501U'), me.slice(0, 200));
    check('the login went through the test OP, the callback and /spid/complete',
      visited.includes('/test-federation/op/authorization') && visited.includes('/spid/oidc/callback')
        && visited.includes('/spid/complete'), visited.join(' '));
    await page.screenshot({ path: path.join(OUT, '02-me.png'), fullPage: true });
    const cookies = await context.cookies(BASE);
    check('a session cookie is set', cookies.some((c) => c.name === 'spid_session'));
    await Promise.all([page.waitForURL(`${BASE}/`), page.locator('form[action$="/logout"] button').click()]);
    check('logout returns home', new URL(page.url()).pathname === '/');
    const after = await page.goto(`${BASE}/me`);
    check('after logout /me needs a login again', new URL(page.url()).pathname !== '/me' || after.status() !== 200);
    await page.screenshot({ path: path.join(OUT, '03-after-logout.png'), fullPage: true });
    check('nothing left 127.0.0.1', offsite.length === 0, offsite.join(' '));
  } catch (e) {
    check('browser run', false, String(e));
  } finally {
    await context.close();
  }
  console.log(`oidc-browser: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
})();
