// Drives headless Chromium over the demo SP's login page (started by tests/button.sh) to
// check the SDK's login buttons (spid_sp::axum::LoginButtons):
//  1. the SPID IdPs come in a different order across loads, every one of them each time
//     (the local test IdP first, marked);
//  2. IdP names are human: no URL in the visible text;
//  3. keyboard only: Tab to "Entra con SPID", Enter opens the list, Tab reaches the first
//     IdP, Enter starts the login; a visible focus ring;
//  4. JavaScript disabled: the chooser opens, an IdP link leads to the signed request
//     (the auto-submit form's "Continua" button) and on to the IdP;
//  5. axe-core (injected from the pinned npm package) finds no serious or critical
//     violation, with the list closed and open;
//  6. nothing is fetched from another site.
// Prints "button: N passed, M failed" last; exit status 1 on any failure.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const BASE = process.env.DEMO_URL; // http://127.0.0.1:PORT
const OUT = process.env.OUT; // target/button
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SPID_IDPS = JSON.parse(process.env.SPID_IDPS); // entityIDs of metadata/spid-entities-idps.xml
const IDP = `${BASE}/test-idp`; // the local test IdP's entityID
const REGISTRY_IDP = 'https://posteid.poste.it';
const REGISTRY_SSO = 'https://posteid.poste.it/jod-fs/ssoservicepost';
const LOADS = 8;
const AXE = require.resolve('axe-core/axe.min.js');

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

async function spidOrder(page) {
  return page.$$eval('ul.spid-sp-idps a[data-entity-id]', (as) => as.map((a) => a.getAttribute('data-entity-id')));
}

/// axe-core on the whole page: the serious and critical violations, summarised.
async function axeSerious(page) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const offsite = [];
  const noOffsite = async (context) => {
    await context.route((u) => u.hostname !== '127.0.0.1', (route) => {
      offsite.push(route.request().url());
      route.abort();
    });
  };

  // 1. Random order, every IdP each time.
  const context = await browser.newContext({ locale: 'it-IT', viewport: { width: 1000, height: 900 } });
  await noOffsite(context);
  let page = await context.newPage();
  const orders = new Set();
  let complete = 0;
  let testFirst = 0;
  const expected = [...SPID_IDPS].sort().join(' ');
  for (let i = 0; i < LOADS; i++) {
    const res = await page.goto(`${BASE}/`);
    if (!res || res.status() !== 200) break;
    const order = await spidOrder(page);
    if (order[0] === IDP) testFirst++;
    const rest = order.filter((id) => id !== IDP);
    if (order.length === SPID_IDPS.length + 1 && [...rest].sort().join(' ') === expected) complete++;
    orders.add(rest.join(' '));
  }
  check(`every SPID IdP of the registry listed once on each of ${LOADS} loads`, complete === LOADS, `${complete}/${LOADS}`);
  check('the test IdP is first on every load', testFirst === LOADS, `${testFirst}/${LOADS}`);
  check('the order of the SPID IdPs differs across loads', orders.size >= 2, `${orders.size} distinct orders`);

  // 2. Human names.
  const list = page.locator('ul.spid-sp-idps');
  const colours = await page.locator('summary.spid-sp-button').evaluate((e) => {
    const s = getComputedStyle(e);
    return `${s.backgroundColor} ${s.color}`;
  });
  check('SPID blue #0066CC with white text', colours === 'rgb(0, 102, 204) rgb(255, 255, 255)', colours);
  check('IdP list hidden until "Entra con SPID" is opened', !(await list.isVisible()));
  await page.getByText('Entra con SPID').click();
  check('"Entra con SPID" opens the list', await list.isVisible());
  const visible = await page.locator('.spid-sp-buttons').innerText();
  check('no URL in the visible text of the buttons', !/https?:\/\//.test(visible), visible);
  const names = await page.$$eval('ul.spid-sp-idps a', (as) => as.map((a) => ({
    id: a.getAttribute('data-entity-id'), name: a.querySelector('.spid-sp-idp-name').textContent,
  })));
  check('every IdP has a name that is not its entityID',
    names.length > 0 && names.every((n) => n.name.trim() && n.name !== n.id && !n.name.includes('/')),
    JSON.stringify(names));
  check('names from the registry metadata (e.g. "Poste Italiane SpA")',
    names.some((n) => n.id === REGISTRY_IDP && n.name === 'Poste Italiane SpA'));
  check('the test IdP is marked as such', (await page.locator('.spid-sp-test-mark').count()) === 1 &&
    (await page.locator('ul.spid-sp-idps li').first().locator('.spid-sp-test-mark').count()) === 1);
  // The demo runs the spid-public profile, which has no attribute service 99/100: the
  // eIDAS node is trusted but its login could only fail, so no eIDAS button.
  check('CIE button beside SPID; no eIDAS button (the profile cannot use the node)',
    (await page.getByRole('link', { name: 'Entra con CIE', exact: true }).count()) === 1 &&
    (await page.getByRole('link', { name: 'Login with eIDAS' }).count()) === 0);
  check('the component declares its language', (await page.locator('.spid-sp-buttons').getAttribute('lang')) === 'it');
  await page.screenshot({ path: path.join(OUT, 'buttons-open.png'), fullPage: true });

  // 5. axe-core, closed and open (the list is open now).
  let serious = await axeSerious(page);
  check('axe-core: no serious or critical violation (list open)', serious.length === 0, JSON.stringify(serious));
  await page.goto(`${BASE}/`);
  serious = await axeSerious(page);
  check('axe-core: no serious or critical violation (list closed)', serious.length === 0, JSON.stringify(serious));

  // 3. Keyboard only.
  await page.goto(`${BASE}/`);
  let onSummary = false;
  for (let i = 0; i < 20 && !onSummary; i++) {
    await page.keyboard.press('Tab');
    onSummary = await page.evaluate(() => document.activeElement && document.activeElement.matches('summary.spid-sp-button'));
  }
  check('Tab reaches "Entra con SPID"', onSummary);
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check('focus ring visible on the focused button', outline !== 'none', outline);
  await page.keyboard.press('Enter');
  check('Enter opens the list', await list.isVisible());
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement.getAttribute('data-entity-id'));
  check('Tab moves to the first IdP', focused === IDP, focused);
  await Promise.all([page.waitForURL(`${IDP}/sso`), page.keyboard.press('Enter')]);
  check('Enter on an IdP starts the login (test IdP form reached)',
    (await page.locator('input[name="user"]').count()) === 4, page.url());
  await context.close();

  // 4. JavaScript disabled.
  const noJs = await browser.newContext({ locale: 'it-IT', javaScriptEnabled: false });
  await noOffsite(noJs);
  page = await noJs.newPage();
  await page.goto(`${BASE}/`);
  const listNoJs = page.locator('ul.spid-sp-idps');
  check('no JavaScript: list hidden at first', !(await listNoJs.isVisible()));
  await page.getByText('Entra con SPID').click();
  check('no JavaScript: "Entra con SPID" opens the list', await listNoJs.isVisible());
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/spid/login'),
    page.locator(`a[data-entity-id="${REGISTRY_IDP}"]`).click(),
  ]);
  const action = await page.locator('form').getAttribute('action');
  check('no JavaScript: a registry IdP link leads to the signed request for that IdP',
    action === REGISTRY_SSO && (await page.locator('input[name="SAMLRequest"]').count()) === 1, action);
  check('no JavaScript: the request page offers a "Continua" button',
    await page.getByRole('button', { name: 'Continua' }).isVisible());
  await page.goto(`${BASE}/`);
  await page.getByText('Entra con SPID').click();
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/spid/login'),
    page.locator(`a[data-entity-id="${IDP}"]`).click(),
  ]);
  await Promise.all([page.waitForURL(`${IDP}/sso`), page.getByRole('button', { name: 'Continua' }).click()]);
  check('no JavaScript: "Continua" reaches the IdP login form', (await page.locator('input[name="user"]').count()) === 4,
    page.url());
  await page.screenshot({ path: path.join(OUT, 'no-js-idp-form.png'), fullPage: true });
  await noJs.close();

  // 6. Stylesheet route; nothing from elsewhere.
  const css = await (await browser.newContext()).request.get(`${BASE}/spid/button.css`);
  check('stylesheet served at /spid/button.css', css.status() === 200 &&
    (css.headers()['content-type'] || '').startsWith('text/css'));
  check('no request left 127.0.0.1', offsite.length === 0, offsite.join(' '));
  await browser.close();
}

main()
  .catch((e) => {
    failed++;
    console.log(`FAIL unexpected error: ${e && e.stack ? e.stack : e}`);
  })
  .finally(() => {
    console.log(`button: ${passed} passed, ${failed} failed`);
    process.exit(failed === 0 ? 0 : 1);
  });
