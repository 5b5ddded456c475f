// The auctioneer's console in a browser, with an online bidder watching the same live sale in
// another: the rostrum opens the sale, asks, takes a floor bid by paddle; the bidder sees the
// floor lead and bids online; the rostrum sees the internet lead, warns and (after confirming;
// a bid while the question is up withdraws it) brings down the hammer; the bidder's page shows
// the win, the server sold it to them, and a bid after the hammer is refused with AUCTION_HAMMERED.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { Api, credit, HAVE_CHROMIUM, newPerson, POLL, signedInContext, useWebApp, watchErrors, type Person } from './support.js';

describe.skipIf(!HAVE_CHROMIUM)("web app: the auctioneer's console", () => {
  const web = useWebApp({ beforeAll, afterAll });

  /** A live sale of a new lot, run by `auctioneer`, advertised to start now. */
  async function liveSale(seller: Person, auctioneer: Person, title: string): Promise<string> {
    const category = await web.admin.call<{ id: string }>('POST', '/api/categories', { name: `Live ${Math.random().toString(36).slice(2, 8)}` });
    const lot = await seller.api.call<{ id: string }>('POST', '/api/lots', { title, description: `${title}. Sold live.`, categoryId: category.id, condition: 'used_good' });
    const created = await seller.api.call<{ auction: { id: string } }>('POST', '/api/auctions', {
      lotId: lot.id,
      kind: 'live',
      currency: 'USD',
      startingPrice: '100.00',
      startsAt: new Date().toISOString(),
      auctioneerId: auctioneer.id,
    });
    return created.auction.id;
  }

  /** A raw call, to read a refusal's status and code. */
  async function problemOf(api: Api, method: string, path: string, body: unknown): Promise<{ status: number; code: string }> {
    const res = await fetch(api.baseUrl + path, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${api.token}` }, body: JSON.stringify(body) });
    return { status: res.status, code: ((await res.json()) as { code: string }).code };
  }

  it('an auctioneer hammers a live lot while an online bidder watches', async () => {
    const seller = await newPerson(web.url, 'Sam Seller', ['seller']);
    // Auctioneers are appointed by an admin; a fresh sign-in carries the new role.
    const appointee = await newPerson(web.url, 'Avery Auctioneer');
    await web.admin.call('PUT', '/api/user', { id: appointee.id, roles: ['bidder', 'auctioneer'] });
    const auctioneer: Person = { ...appointee, api: await new Api(web.url).signIn(appointee.email, appointee.password) };
    const title = 'Regency mahogany card table';
    const id = await liveSale(seller, auctioneer, title);
    const nextTitle = 'Pair of Staffordshire dogs';
    const nextId = await liveSale(seller, auctioneer, nextTitle);
    const bidder = await newPerson(web.url, 'Ola Online');
    await credit(web.admin, bidder.id, 'USD', '1000.00');

    const rostrum: Page = await (await signedInContext(web.browser, web.url, auctioneer.api.token)).newPage();
    const room: Page = await (await signedInContext(web.browser, web.url, bidder.api.token)).newPage();
    const rostrumErrors = watchErrors(rostrum);
    const roomErrors = watchErrors(room);
    const text = (page: Page, testId: string) => page.getByTestId(testId).textContent();

    // The bidder waits in the room; the auctioneer finds the sale in the console.
    await room.goto(`/auctions/${id}`);
    await rostrum.goto('/');
    await rostrum.getByRole('link', { name: 'Console', exact: true }).click();
    await expect.poll(() => rostrum.getByTestId('console-sale').count(), POLL).toBe(2);
    await rostrum.getByRole('link', { name: `Run ${title}` }).click();
    await expect.poll(() => rostrum.url(), POLL).toContain(`/console/${id}`);
    await expect.poll(() => text(rostrum, 'console-phase'), POLL).toBe('Not open yet');

    // Open, then an asking price above the ladder.
    await rostrum.getByRole('button', { name: 'Open the sale' }).click();
    await expect.poll(() => text(rostrum, 'console-phase'), POLL).toBe('Taking bids');
    await rostrum.getByLabel('Asking price (A)').fill('110.00');
    await rostrum.getByRole('button', { name: 'Ask', exact: true }).click();
    await expect.poll(() => text(rostrum, 'console-asking'), POLL).toBe('$110.00');
    await expect.poll(() => room.getByRole('button', { name: 'Bid $110.00' }).count(), POLL).toBe(1);

    // A floor bid at the asking price by paddle 12: the room sees the floor lead.
    await rostrum.getByLabel('Paddle (B)').fill('12');
    await rostrum.getByRole('button', { name: /^Enter floor bid/ }).click();
    await expect.poll(() => text(rostrum, 'console-leader'), POLL).toBe('Floor · paddle 12');
    await expect.poll(() => text(room, 'current-price'), POLL).toBe('$110.00');
    await expect.poll(() => room.locator('.price-block').textContent(), POLL).toContain('Leading: paddle 12');

    // The bidder bids online at the next step; the rostrum sees the internet lead.
    await room.getByRole('button', { name: 'Bid $112.50' }).click();
    await expect.poll(() => text(room, 'standing'), POLL).toContain('You lead');
    await expect.poll(() => text(rostrum, 'console-leader'), POLL).toBe('Internet · bidder 1');
    await expect.poll(() => text(rostrum, 'console-price'), POLL).toBe('$112.50');
    await expect.poll(() => rostrum.getByTestId('console-history').locator('.amount').allTextContents(), POLL).toEqual(['$112.50', '$110.00']);

    // A word to the room, typed key by key: letters in a field are text, never shortcuts (its F and H warn and hammer nothing).
    await rostrum.keyboard.press('c');
    await rostrum.keyboard.type('Fair warning: the bid is online, the hammer is next');
    await rostrum.keyboard.press('Enter');
    await expect.poll(() => room.locator('.chat').textContent(), POLL).toContain('Fair warning: the bid is online, the hammer is next');
    // The room can hear it before the rostrum has its answer; the field empties (and gives the
    // keyboard back) only then: a key pressed earlier is still text in the field.
    await expect.poll(() => rostrum.locator('#room-message').inputValue(), POLL).toBe('');
    expect(await text(rostrum, 'console-phase')).toBe('Taking bids');
    expect(await rostrum.getByTestId('hammer-dialog').isVisible()).toBe(false);
    // The keyboard: H before a warning only says to warn first; F warns.
    await rostrum.keyboard.press('h');
    await expect.poll(() => text(rostrum, 'console-feedback'), POLL).toContain('Give fair warning first');
    await rostrum.keyboard.press('f');
    await expect.poll(() => text(rostrum, 'console-phase'), POLL).toBe('Fair warning');
    await expect.poll(() => room.getByRole('alert').filter({ hasText: 'Fair warning' }).count(), POLL).toBe(1);

    // The hammer asks first; "Not yet" sends nothing.
    await rostrum.keyboard.press('h');
    const dialog = rostrum.getByTestId('hammer-dialog');
    await expect.poll(() => dialog.isVisible(), POLL).toBe(true);
    expect(await dialog.getByRole('heading').textContent()).toBe('Sold to bidder 1 for $112.50?');
    await dialog.getByRole('button', { name: 'Not yet' }).click();
    await expect.poll(() => dialog.isVisible(), POLL).toBe(false);
    expect(await text(rostrum, 'console-phase')).toBe('Fair warning');

    // A bid while the hammer waits closes the question: the warning must be given again.
    await rostrum.keyboard.press('h');
    await expect.poll(() => dialog.isVisible(), POLL).toBe(true);
    await auctioneer.api.call('POST', `/api/auctions/${id}/console`, { action: 'floor-bid', paddle: '7', amount: '115.00' });
    await expect.poll(() => dialog.isVisible(), POLL).toBe(false);
    await expect.poll(() => text(rostrum, 'console-feedback'), POLL).toContain('give fair warning again');
    expect(await text(rostrum, 'console-phase')).toBe('Taking bids');
    await room.getByRole('button', { name: 'Bid $117.50' }).click();
    await expect.poll(() => text(rostrum, 'console-leader'), POLL).toBe('Internet · bidder 1');
    await rostrum.keyboard.press('f');
    await expect.poll(() => text(rostrum, 'console-phase'), POLL).toBe('Fair warning');
    await rostrum.keyboard.press('h');
    expect(await dialog.getByRole('heading').textContent()).toBe('Sold to bidder 1 for $117.50?');
    await dialog.getByRole('button', { name: 'Sold: bring down the hammer' }).click();
    await expect.poll(() => text(rostrum, 'console-phase'), POLL).toBe('Sold');

    // The bidder's page shows the result; the server sold it to them and took the price.
    await expect.poll(() => room.locator('.banner.sold').textContent(), POLL).toBe('Sold to bidder 1');
    await expect.poll(() => room.getByText('You won this lot.').count(), POLL).toBe(1);
    await expect.poll(async () => (await bidder.api.call<{ auction: { settled: boolean } }>('GET', `/api/auctions/${id}`)).auction.settled, POLL).toBe(true);
    const page = await bidder.api.call<{ auction: { status: string; outcome: string }; live: { closedVia: string; price: string } }>('GET', `/api/auctions/${id}`);
    expect(page.auction).toMatchObject({ status: 'closed', outcome: 'sold' });
    expect(page.live).toMatchObject({ closedVia: 'hammer', price: '117.50' });
    const replay = await bidder.api.call<{ view: string; entries: Array<{ type: string; event: { winner?: unknown; priceMinor?: string } }> }>('GET', `/api/auctions/${id}/replay`);
    expect(replay.view).toBe('full');
    expect(replay.entries.find((e) => e.type === 'AuctionClosed')?.event).toMatchObject({ winner: { source: 'online', bidderId: bidder.id }, priceMinor: '11750' });
    const wallets = await bidder.api.call<{ items: Array<{ currency: string; posted: string; held: string }> }>('GET', '/api/wallets');
    expect(wallets.items.find((w) => w.currency === 'USD')).toMatchObject({ posted: '882.50', held: '0.00' });

    // An online bid after the hammer is refused, saying why.
    expect(await problemOf(bidder.api, 'POST', `/api/auctions/${id}/bids`, { amount: '120.00', currency: 'USD' })).toEqual({ status: 409, code: 'AUCTION_HAMMERED' });

    // The next lot is the auctioneer's other sale.
    await rostrum.keyboard.press('n');
    await expect.poll(() => rostrum.url(), POLL).toContain(`/console/${nextId}`);
    await expect.poll(() => rostrum.getByRole('heading', { level: 1 }).textContent(), POLL).toBe(nextTitle);

    expect(rostrumErrors).toEqual([]);
    expect(roomErrors).toEqual([]);
  }, 120_000);
});
