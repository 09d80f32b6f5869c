// "Entra con CNS" in headless Chromium (started by tests/cns.sh): the card's certificate
// is in the NSS database of $HOME (pk12util) and chosen by the managed policy
// AutoSelectCertificateForUrls; Chromium does the TLS client authentication itself on the
// demo's CNS listener. Prints "cns-browser: ok" or "cns-browser: failed <why>" last.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const BASE = process.env.DEMO_URL; // http://127.0.0.1:PORT (the CNS listener is https://127.0.0.1:TLS_PORT)
const OUT = process.env.OUT;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'spid-sp-cns-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      ignoreHTTPSErrors: true, // the demo's self-signed server certificate
      locale: 'it-IT',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = context.pages()[0] || (await context.newPage());
    await page.goto(`${BASE}/`);
    await Promise.all([
      page.waitForURL(`${BASE}/me`, { timeout: 20000 }),
      page.locator('#cns-login').click(),
    ]);
    const cf = ((await page.locator('#codice-fiscale').textContent({ timeout: 5000 })) || '').trim();
    const cred = ((await page.locator('#credenziale').textContent({ timeout: 5000 })) || '').trim();
    await page.screenshot({ path: path.join(OUT, 'chromium-cns.png'), fullPage: true });
    if (cf === 'RSSMRA80A01H501U' && cred === 'CNS (smart card)') {
      console.log(`cns-browser: ok (${cf}, ${cred})`);
    } else {
      console.log(`cns-browser: failed: page shows ${cf} / ${cred}`);
    }
  } catch (e) {
    console.log(`cns-browser: failed: ${String(e).split('\n')[0]}`);
  } finally {
    if (context) await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})();
