/**
 * The dashboard's queued-delivery section in Debian's Chromium: queue depth per route, the
 * dead letters, and a retry button that queues a dead message again (after a confirmation),
 * which is then delivered by a real upstream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { request, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const TOKEN = 'e2e-queue-token';

describe('dashboard: queued delivery', () => {
  let business: ControlledUpstream;
  let gw: StartedGateway;
  let browser: Browser;
  let page: Page;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'bw-e2e-queue-'));
    business = await startUpstream({ mode: { kind: 'status', status: 503 } });
    gw = await startGateway({
      admin: { token: TOKEN },
      queue: { path: path.join(dir, 'queue.db'), pollIntervalMs: 50 },
      upstreams: { business: { url: business.url, breaker: { volumeThreshold: 100 } } },
      routes: [{ path: '/api/applications', upstream: 'business', delivery: 'queued', queue: { maxAttempts: 1 } }],
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await business?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the dead letter, and its retry button gets it delivered', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    const accepted = await request(gw.url, '/api/applications', { method: 'POST', body: '{"n":1}', headers: { 'Content-Type': 'application/json' } });
    const id = (accepted.json as { id: string }).id;
    await waitFor(() => business.received.length === 1, 3000, 'the one attempt');
    await page.goto(`${gw.gw.adminUrl}/dashboard`);
    await page.waitForSelector('#token-form:not([hidden])', { timeout: 5000 });
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector('#queue:not([hidden])', { timeout: 5000 });
    const row = '#queue-routes tr[data-route="/api/applications"]';
    await page.waitForFunction((sel) => document.querySelector(`${sel} [data-role="dead"]`)?.textContent === '1', row, { timeout: 5000 });
    await page.waitForSelector(`#dead-letters li[data-message="${id}"]`, { timeout: 5000 });
    business.setMode({ kind: 'ok' });
    let question = '';
    page.once('dialog', (dialog) => {
      question = dialog.message();
      void dialog.accept();
    });
    await page.click(`#dead-letters li[data-message="${id}"] button[data-action="retry"]`);
    await page.waitForFunction((sel) => document.querySelector(`${sel} [data-role="delivered"]`)?.textContent === '1', row, { timeout: 5000 });
    expect(question).toContain(id);
    expect(await page.locator('#dead-letters li').count()).toBe(0);
    expect(((await request(gw.url, `/messages/${id}`)).json as { status: string }).status).toBe('delivered');
    expect(business.received).toHaveLength(2);
    expect(errors).toEqual([]);
  });
});
