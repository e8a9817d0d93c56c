/**
 * The dashboard in Debian's Chromium (SPEC §7 GET /dashboard): it asks for the admin token,
 * shows a breaker tripped by a real failing upstream as OPEN within 2 s and CLOSED again
 * after recovery, and lets an operator force a breaker open after a confirmation.
 * Saves docs/dashboard.png (the screenshot in docs/operations.md).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { request, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const TOKEN = 'e2e-admin-token';
const RESET_TIMEOUT_MS = 1500;
const SCREENSHOT = path.join(__dirname, '..', '..', 'docs', 'dashboard.png');

describe('dashboard in Chromium', () => {
  let business: ControlledUpstream;
  let bureau: ControlledUpstream;
  let archive: ControlledUpstream;
  let gw: StartedGateway;
  let browser: Browser;
  let page: Page;
  const card = (name: string): string => `article.card[data-upstream="${name}"]`;
  const stateText = (name: string): Promise<string> => page.locator(`${card(name)} [data-role="state"]`).innerText();

  /** Resolves when the card shows `state`; returns how long that took. */
  const waitForCard = async (name: string, state: string, timeoutMs: number): Promise<number> => {
    const t0 = Date.now();
    await page.waitForSelector(`${card(name)}[data-state="${state}"]`, { timeout: timeoutMs });
    return Date.now() - t0;
  };

  beforeAll(async () => {
    [business, bureau, archive] = await Promise.all([startUpstream(), startUpstream(), startUpstream()]);
    const breaker = { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: RESET_TIMEOUT_MS, rollingWindowMs: 10000 };
    gw = await startGateway({
      admin: { token: TOKEN },
      upstreams: {
        business: { url: business.url, breaker, healthCheck: { intervalMs: 500, unhealthyThreshold: 3 } },
        'credit-bureau': { url: bureau.url, breaker, healthCheck: { intervalMs: 500 } },
        archive: { url: archive.url, breaker },
      },
      routes: [
        { path: '/api/loans', upstream: 'business', requires: ['credit-bureau'] },
        { path: '/api/credit', upstream: 'credit-bureau' },
        { path: '/api/documents', upstream: 'archive' },
      ],
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await Promise.all([business, bureau, archive].map((u) => u?.close()));
  });

  it('asks for the token, then shows a card per upstream', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/401|Unauthorized/.test(msg.text())) errors.push(msg.text());
    });
    await page.goto(`${gw.gw.adminUrl}/dashboard`);
    await page.waitForSelector('#token-form:not([hidden])', { timeout: 5000 });
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector(card('archive'), { timeout: 5000 });
    expect(await page.locator('article.card').count()).toBe(3);
    expect(await stateText('business')).toBe('CLOSED');
    await page.waitForSelector('#connection[data-status="live"]', { timeout: 5000 });
    expect(errors).toEqual([]);
  });

  it('shows OPEN within 2 s of a real failing upstream tripping the breaker, and CLOSED within 2 s of recovery', async () => {
    for (let i = 0; i < 6; i++) await request(gw.url, `/api/loans/${i}`);
    for (let i = 0; i < 4; i++) await request(gw.url, `/api/documents/${i}`);
    business.setMode({ kind: 'status', status: 503 });
    while (gw.gw.registry.get('business').breaker.state().value === 'closed') await request(gw.url, '/api/loans/1');
    const opened = await waitForCard('business', 'open', 2000);
    expect(opened).toBeLessThan(2000);
    expect(await stateText('business')).toBe('OPEN');
    const colour = await page.locator(`${card('business')} [data-role="state"]`).evaluate((el) => getComputedStyle(el).color);
    expect(colour).toBe('rgb(194, 31, 44)'); // --open

    business.setMode({ kind: 'ok' });
    await waitFor(() => gw.gw.registry.get('business').breaker.state().value === 'half-open', RESET_TIMEOUT_MS + 2000, 'half-open');
    expect((await request(gw.url, '/api/loans/1')).status).toBe(200);
    expect(gw.gw.registry.get('business').breaker.state().value).toBe('closed');
    const closed = await waitForCard('business', 'closed', 2000);
    expect(closed).toBeLessThan(2000);
    expect(await stateText('business')).toBe('CLOSED');
    // The timeline shows the trip and the recovery, newest first.
    const timeline = await page.locator('#timeline li[data-name="business"]').evaluateAll((lis) => lis.map((li) => `${li.getAttribute('data-from')}→${li.getAttribute('data-to')}`));
    expect(timeline.slice(0, 3)).toEqual(['half-open→closed', 'open→half-open', 'closed→open']);
  });

  it('forces a breaker open after a confirmation, and saves a screenshot', async () => {
    for (let i = 0; i < 5; i++) await request(gw.url, `/api/credit/${i}`);
    let question = '';
    page.once('dialog', (dialog) => {
      question = dialog.message();
      void dialog.accept();
    });
    await page.click(`${card('archive')} button[data-action="open"]`);
    await waitForCard('archive', 'open', 2000);
    expect(question).toMatch(/archive/);
    expect(await stateText('archive')).toBe('OPEN (forced)');
    expect(gw.gw.registry.get('archive').breaker.override()).toEqual({ state: 'open', by: 'POST /admin/breakers/archive/open' });

    // Dismissing the confirmation does nothing.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await page.click(`${card('credit-bureau')} button[data-action="open"]`);
    await new Promise((r) => setTimeout(r, 300));
    expect(gw.gw.registry.get('credit-bureau').breaker.override()).toBeNull();

    await page.mouse.move(0, 0); // no hover highlight in the screenshot
    await page.waitForTimeout(1200); // one more snapshot, so stats and clocks are current
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });
});
