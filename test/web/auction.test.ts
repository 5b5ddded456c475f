// The auction room in two browsers: each bid one person makes appears on the other's screen,
// proxy bids answer at once, and a browser that lost its socket catches up on what it missed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page, WebSocketRoute } from 'playwright-core';
import { credit, HAVE_CHROMIUM, newPerson, openAuction, POLL, signedInContext, useWebApp, waitOpen, watchErrors, type Person } from './support.js';

describe.skipIf(!HAVE_CHROMIUM)('web app: the auction room in two browsers', () => {
  const web = useWebApp({ beforeAll, afterAll });
  let seller: Person;

  beforeAll(async () => {
    seller = await newPerson(web.url, 'Sam Seller', ['seller']);
  });

  async function bidder(name: string): Promise<{ person: Person; page: Page; errors: string[] }> {
    const person = await newPerson(web.url, name);
    await credit(web.admin, person.id, 'USD', '1000.00');
    const page = await (await signedInContext(web.browser, web.url, person.api.token)).newPage();
    return { person, page, errors: watchErrors(page) };
  }

  const history = (page: Page) => page.locator('[data-testid=bid-history] .amount').allTextContents();
  const price = (page: Page) => page.getByTestId('current-price').textContent();

  it('two bidders see each other’s bids, proxy answers included, on both screens', async () => {
    const auction = await openAuction(web.admin, seller, { title: 'Brass ship’s clock', startingPrice: '10.00' });
    await waitOpen(web.admin, auction.id);
    const ada = await bidder('Ada Bidder');
    const ben = await bidder('Ben Bidder');
    await Promise.all([ada.page.goto(`/auctions/${auction.id}`), ben.page.goto(`/auctions/${auction.id}`)]);
    await expect.poll(() => price(ada.page), POLL).toBe('$10.00');
    await expect.poll(() => price(ben.page), POLL).toBe('$10.00');

    // Ada taps the next bid; both screens show it.
    await ada.page.getByRole('button', { name: 'Bid $10.00' }).click();
    await expect.poll(() => ada.page.getByTestId('standing').textContent(), POLL).toContain('You lead');
    await expect.poll(() => history(ben.page), POLL).toEqual(['$10.00']);

    // Ben answers with the next one-tap amount; Ada is told she was outbid.
    await ben.page.getByRole('button', { name: 'Bid $10.50' }).click();
    await expect.poll(() => price(ada.page), POLL).toBe('$10.50');
    await expect.poll(() => ada.page.getByTestId('standing').textContent(), POLL).toContain('outbid');

    // Ada sets a maximum of $20: she leads at one step over Ben's $10.50.
    await ada.page.getByLabel('Your maximum bid').fill('20.00');
    await ada.page.getByRole('button', { name: 'Place maximum bid' }).click();
    await expect.poll(() => price(ben.page), POLL).toBe('$11.00');
    await expect.poll(() => ada.page.getByTestId('standing').textContent(), POLL).toContain('your maximum is $20.00');

    // Ben bids $11.50; Ada's proxy answers at once, and both see $12.00 with Ada still leading.
    await ben.page.getByRole('button', { name: 'Bid $11.50' }).click();
    await expect.poll(() => ben.page.getByTestId('bid-result').textContent(), POLL).toContain('outbid at once');
    for (const p of [ada.page, ben.page]) await expect.poll(() => history(p), POLL).toEqual(['$12.00', '$11.00', '$10.50', '$10.00']);
    await expect.poll(() => price(ada.page), POLL).toBe('$12.00');
    expect(await ada.page.getByTestId('standing').textContent()).toContain('You lead');
    expect(await ada.page.getByTestId('bid-count').textContent()).toBe('4');

    expect(ada.errors).toEqual([]);
    expect(ben.errors).toEqual([]);
  }, 90_000);

  it('a browser whose socket dropped reconnects and resumes from the last seq it saw', async () => {
    const auction = await openAuction(web.admin, seller, { title: 'Pair of Georgian candlesticks', startingPrice: '10.00' });
    await waitOpen(web.admin, auction.id);
    const ada = await bidder('Ada Resumes');
    const ben = await bidder('Ben Bids');

    // Ada's socket goes through a switch the test can open: while down, connections are refused.
    let down = false;
    let current: WebSocketRoute | undefined;
    const sent: string[] = [];
    await ada.page.routeWebSocket(/\/ws$/, (ws) => {
      if (down) {
        ws.close({ code: 4999, reason: 'test: network down' });
        return;
      }
      const server = ws.connectToServer();
      current = ws;
      ws.onMessage((m) => {
        sent.push(String(m));
        server.send(m);
      });
    });
    await ada.page.goto(`/auctions/${auction.id}`);
    await ben.page.goto(`/auctions/${auction.id}`);
    await ben.page.getByRole('button', { name: 'Bid $10.00' }).click();
    await expect.poll(() => history(ada.page), POLL).toEqual(['$10.00']);

    // The network fails; Ben bids twice meanwhile (Ada's REST page load is not involved).
    down = true;
    await current!.close({ code: 4999, reason: 'test: network down' });
    await expect.poll(() => ada.page.locator('.connection').textContent(), POLL).toContain('Reconnecting');
    await ben.person.api.call('POST', `/api/auctions/${auction.id}/bids`, { amount: '10.50', currency: 'USD', max: '30.00' });
    const other = await newPerson(web.url, 'Cleo Bidder');
    await credit(web.admin, other.id, 'USD', '100.00');
    await other.api.call('POST', `/api/auctions/${auction.id}/join`);
    await other.api.call('POST', `/api/auctions/${auction.id}/bids`, { amount: '11.00', currency: 'USD' });
    expect(await history(ada.page)).toEqual(['$10.00']);

    // Back up: Ada's page resubscribes from the last seq it saw and gets what it missed.
    sent.length = 0;
    down = false;
    await expect.poll(() => ada.page.locator('.connection').textContent(), { timeout: 30_000 }).toContain('Live');
    await expect.poll(() => history(ada.page), POLL).toEqual(['$11.50', '$10.00']);
    expect(await price(ada.page)).toBe('$11.50');
    const resubscribe = sent.map((m) => JSON.parse(m) as { type: string; topic?: string; fromSeq?: number }).find((m) => m.type === 'subscribe' && m.topic === `auction:${auction.id}`);
    expect(resubscribe?.fromSeq).toBeGreaterThan(0);
    expect(ada.errors).toEqual([]);
  }, 90_000);
});
