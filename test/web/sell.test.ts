// The seller's pages in a browser: a lot listed with an uploaded image (and a file the server
// refuses, with its refusal on screen), a timed auction scheduled in the seller's own time,
// My listings showing it, and after bids made through the API, the results page's figures and
// chart matching GET /api/auctions/{id}/stats; the period page matching GET /api/auction-stats.
// Also: cancelling before the first bid from My listings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { artPng, credit, HAVE_CHROMIUM, newPerson, POLL, signedInContext, useWebApp, waitOpen, watchErrors, type Person } from './support.js';

const usd = (amount: string) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(Number(amount));
/** The accessible label of what has the keyboard focus. */
const focusedLabel = (page: Page) => page.evaluate<string | null>("document.activeElement?.getAttribute('aria-label') ?? null");
/** A datetime-local value in UTC, the zone the test browser runs in. */
const localInput = (ms: number) => new Date(ms).toISOString().slice(0, 19);

describe.skipIf(!HAVE_CHROMIUM)('web app: selling', () => {
  const web = useWebApp({ beforeAll, afterAll });
  let seller: Person;
  let categoryId: string;

  beforeAll(async () => {
    categoryId = (await web.admin.call<{ id: string }>('POST', '/api/categories', { name: 'Clocks' })).id;
    await web.admin.call('POST', '/api/categories', { name: 'Carriage clocks', parentId: categoryId });
    seller = await newPerson(web.url, 'Sam Seller', ['seller']);
  });

  async function sellerPage(): Promise<{ page: Page; errors: string[] }> {
    const context = await signedInContext(web.browser, web.url, seller.api.token);
    const page = await context.newPage();
    return { page, errors: watchErrors(page) };
  }

  async function bidder(name: string): Promise<Person> {
    const person = await newPerson(web.url, name);
    await credit(web.admin, person.id, 'USD', '500.00');
    return person;
  }

  it('a seller lists a lot with an image, schedules a timed auction, sees it in My listings, and its results match the API', async () => {
    const { page, errors } = await sellerPage();
    await page.goto('/');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sell' }).click();
    await page.waitForURL('**/sell');
    await page.getByRole('link', { name: 'List a new lot' }).click();
    await page.waitForURL('**/sell/lots/new');

    // The node's limits are on the form before anything is sent.
    await expect.poll(() => page.getByTestId('image-limits').textContent(), POLL).toMatch(/JPEG, PNG, WebP · at most 5 MB each · up to 12 images per lot/);
    await page.getByLabel('Title', { exact: true }).fill('French carriage clock, c. 1890');
    await page.getByLabel('Description', { exact: true }).fill('Brass and bevelled glass, eight-day movement.\nKeeps good time.');
    await page.getByLabel('Category', { exact: true }).selectOption({ label: 'Clocks › Carriage clocks' });
    await page.getByRole('radio', { name: /^Like new/ }).check();
    await page.getByLabel('Add images').setInputFiles({ name: 'front.png', mimeType: 'image/png', buffer: artPng(40, 0) });
    await expect.poll(() => page.getByRole('img', { name: 'Preview of front.png' }).count(), POLL).toBe(1);
    await page.getByRole('button', { name: 'List the lot' }).click();

    await page.waitForURL(/\/sell\/lots\/[0-9a-f-]{36}$/);
    const lotId = page.url().split('/').at(-1)!;
    await expect.poll(() => page.getByTestId('lot-notice').textContent(), POLL).toContain('Listed, with 1 image');
    await expect.poll(() => page.getByTestId('lot-images').locator('li').count(), POLL).toBe(1);
    await expect.poll(() => page.getByTestId('lot-images').locator('img').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), POLL).toBe(480);
    const lot = await seller.api.call<{ title: string; condition: string; categoryPath: Array<{ name: string }>; images: Array<{ contentType: string }> }>('GET', `/api/lots/${lotId}`);
    expect(lot).toMatchObject({ title: 'French carriage clock, c. 1890', condition: 'like_new', images: [{ contentType: 'image/png' }] });
    expect(lot.categoryPath.map((c) => c.name)).toEqual(['Clocks', 'Carriage clocks']);

    // A text file dressed as a PNG passes the browser's look at its name; the server reads its
    // bytes and refuses it, and the page says so. Nothing is added.
    await page.getByLabel('Add images').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a picture at all, only words') });
    await page.getByRole('button', { name: 'Upload 1 image' }).click();
    await expect.poll(() => page.getByTestId('image-error').textContent(), POLL).toContain('“notes.png” is not a JPEG, PNG or WebP image');
    expect((await seller.api.call<{ images: unknown[] }>('GET', `/api/lots/${lotId}`)).images).toHaveLength(1);

    // A timed auction, its times typed in the seller's own zone (UTC here), shown with it.
    await page.getByRole('link', { name: 'Auction this lot' }).click();
    await page.waitForURL(`**/sell/lots/${lotId}/auction`);
    await expect.poll(() => page.getByTestId('time-zone').textContent(), POLL).toContain('UTC (UTC+00:00)');
    const startsAtMs = Math.ceil((Date.now() + 4_000) / 1000) * 1000;
    const endsAtMs = startsAtMs + 16_000;
    await page.getByLabel('Starting price', { exact: true }).fill('10.00');
    await page.getByLabel('Reserve (optional)', { exact: true }).fill('15.00');
    await page.getByLabel('Soft close, in seconds', { exact: true }).fill('0');
    await page.getByLabel('Opens', { exact: true }).fill(localInput(startsAtMs));
    await page.getByLabel('Ends', { exact: true }).fill(localInput(endsAtMs));
    await page.getByRole('button', { name: 'Schedule the auction' }).click();
    await page.waitForURL(/\/sell\/auctions\/[0-9a-f-]{36}$/);
    const auctionId = page.url().split('/').at(-1)!;
    const created = await web.admin.call<{ auction: { lotId: string; startsAt: string; endsAt: string; startingPrice: string } }>('GET', `/api/auctions/${auctionId}`);
    expect(created.auction).toMatchObject({ lotId, startingPrice: '10.00', startsAt: new Date(startsAtMs).toISOString(), endsAt: new Date(endsAtMs).toISOString() });

    // My listings: the auction, its state and starting price; the lot, held by it.
    await page.getByRole('link', { name: 'My listings' }).click();
    const row = page.locator(`[data-testid=my-auction][data-auction-id="${auctionId}"]`);
    await expect.poll(() => row.locator('th').textContent(), POLL).toContain('French carriage clock');
    expect(await row.getByTestId('my-auction-price').textContent()).toContain('$10.00');
    expect(await row.getByTestId('my-auction-bids').textContent()).toBe('0');
    await expect.poll(() => page.locator(`[data-testid=my-lot][data-lot-id="${lotId}"]`).textContent(), POLL).toMatch(/Auction scheduled|In an auction now/);

    // Bids through the API: Ada, then Ben with a maximum, then Ada again, beaten by Ben's proxy.
    await waitOpen(web.admin, auctionId);
    const ada = await bidder('Ada Bidder');
    const ben = await bidder('Ben Bidder');
    for (const p of [ada, ben]) await p.api.call('POST', `/api/auctions/${auctionId}/join`);
    await ada.api.call('POST', `/api/auctions/${auctionId}/bids`, { amount: '10.00', currency: 'USD' });
    await ben.api.call('POST', `/api/auctions/${auctionId}/bids`, { amount: '12.00', max: '20.00', currency: 'USD' });
    await ada.api.call('POST', `/api/auctions/${auctionId}/bids`, { amount: '16.00', currency: 'USD' });
    const running = await seller.api.call<{ bids: number }>('GET', `/api/auctions/${auctionId}/stats`);
    await page.reload();
    await expect.poll(() => row.getByTestId('my-auction-bids').textContent(), POLL).toBe(String(running.bids));
    expect(await row.getByTestId('my-auction-price').textContent()).toContain('$16.50');

    // Once it closes, the results page shows the API's figures and draws each bid.
    const deadline = Date.now() + 30_000;
    while ((await web.admin.call<{ live: { status: string } }>('GET', `/api/auctions/${auctionId}`)).live.status !== 'closed') {
      if (Date.now() > deadline) throw new Error('the auction did not close');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const stats = await seller.api.call<{ bids: number; bidders: number; participants: number; finalPrice: string; reserve: string; outcome: string; bidsOverTime: Array<{ price: string }> }>('GET', `/api/auctions/${auctionId}/stats`);
    expect(stats).toMatchObject({ outcome: 'sold', finalPrice: '16.50', reserve: '15.00', bidders: 2, participants: 2 });
    await page.goto(`/sell/auctions/${auctionId}`);
    await expect.poll(() => page.getByTestId('stat-result').textContent(), POLL).toBe('Sold');
    expect(await page.getByTestId('stat-price').textContent()).toBe(usd(stats.finalPrice));
    expect(await page.getByTestId('stat-reserve').textContent()).toBe(usd(stats.reserve));
    expect(await page.getByTestId('stat-bids').textContent()).toBe(String(stats.bids));
    expect(await page.getByTestId('stat-bidders').textContent()).toBe(String(stats.bidders));
    expect(await page.getByTestId('stat-participants').textContent()).toBe(String(stats.participants));

    const chart = page.getByTestId('chart-price');
    expect(await chart.getByRole('img').getAttribute('aria-labelledby')).toBeTruthy();
    await expect.poll(() => chart.locator('svg circle.point').count(), POLL).toBe(stats.bidsOverTime.length);
    const tablePrices = await chart.locator('table tbody tr td:last-child').allTextContents();
    expect(tablePrices).toEqual(stats.bidsOverTime.map((b) => usd(b.price)));
    expect(await chart.locator('.chart-summary').textContent()).toContain(`the reserve of ${usd('15.00')} was met`);
    // The table is for screen readers until asked for; then everyone sees it.
    await chart.getByRole('button', { name: 'Show as a table' }).click();
    expect(await chart.locator('table').isVisible()).toBe(true);
    expect(await page.getByTestId('chart-reserve').locator('table tbody tr').allTextContents()).toEqual([`Starting${usd('10.00')}`, `Reserve${usd('15.00')}`, `Final${usd('16.50')}`]);

    // The period page counts it, as GET /api/auction-stats does for the same days.
    await page.goto('/sell/stats?period=7d');
    const today = new Date();
    const fromMs = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - 6);
    const toMs = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 1);
    const period = await seller.api.call<{ sold: number; sellThrough: number; salesByCurrency: Array<{ currency: string; total: string }> }>('GET', `/api/auction-stats?from=${new Date(fromMs).toISOString()}&to=${new Date(toMs).toISOString()}`);
    expect(period).toMatchObject({ sold: 1, sellThrough: 1, salesByCurrency: [{ currency: 'USD', total: '16.50' }] });
    await expect.poll(() => page.getByTestId('period-sold').textContent(), POLL).toBe(String(period.sold));
    expect(await page.getByTestId('period-sell-through').textContent()).toBe('100%');
    expect(await page.getByTestId('period-sales').textContent()).toBe(usd('16.50'));
    expect(await page.getByTestId('chart-sell-through').locator('svg rect.bar').count()).toBe(7);
    expect(await page.getByTestId('chart-sales').locator('table tbody tr').last().textContent()).toContain(usd('16.50'));
    expect(errors).toEqual([]);
  }, 120_000);

  it('a seller reorders a lot’s images and deletes one by keyboard; the server keeps the new order', async () => {
    const lot = await seller.api.call<{ id: string }>('POST', '/api/lots', { title: 'Skeleton clock under a dome', description: 'Glass dome.', categoryId, condition: 'used_fair' });
    const uploaded = await seller.api.upload(`/api/lots/${lot.id}/images`, [
      { name: 'one.png', bytes: artPng(10, 0), type: 'image/png' },
      { name: 'two.png', bytes: artPng(120, 1), type: 'image/png' },
      { name: 'three.png', bytes: artPng(240, 0), type: 'image/png' },
    ]) as { items: Array<{ id: string }> };
    const [one, two, three] = uploaded.items.map((i) => i.id);
    const order = async () => (await seller.api.call<{ images: Array<{ id: string; position: number }> }>('GET', `/api/lots/${lot.id}`)).images.sort((a, b) => a.position - b.position).map((i) => i.id);
    const { page, errors } = await sellerPage();
    await page.goto(`/sell/lots/${lot.id}`);
    await page.getByRole('button', { name: 'Move image 2 earlier' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(order, POLL).toEqual([two, one, three]);
    // The moved image keeps the focus, now first: "earlier" is disabled, so "later" has it.
    await expect.poll(() => focusedLabel(page), POLL).toBe('Move image 1 later');
    expect(await page.getByTestId('lot-images').locator('li').first().getByText('Cover').count()).toBe(1);

    // Deleting asks once more; the focus follows to the image that takes its place.
    await page.getByRole('button', { name: 'Delete image 3' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => focusedLabel(page), POLL).toBe('Yes, delete image 3');
    await page.keyboard.press('Enter');
    await expect.poll(order, POLL).toEqual([two, one]);
    await expect.poll(() => page.getByTestId('lot-images').locator('li').count(), POLL).toBe(2);
    expect(errors).toEqual([]);
  }, 60_000);

  it('a seller cancels an auction before its first bid from My listings, giving a reason', async () => {
    const lot = await seller.api.call<{ id: string }>('POST', '/api/lots', { title: 'Mantel clock, walnut case', description: 'Strikes the hours.', categoryId, condition: 'used_good' });
    const startsAt = new Date(Date.now() + 3_600_000).toISOString();
    const endsAt = new Date(Date.now() + 7_200_000).toISOString();
    const { auction } = await seller.api.call<{ auction: { id: string } }>('POST', '/api/auctions', { lotId: lot.id, kind: 'timed', currency: 'USD', startingPrice: '25.00', startsAt, endsAt });
    const { page, errors } = await sellerPage();
    await page.goto('/sell');
    const row = page.locator(`[data-testid=my-auction][data-auction-id="${auction.id}"]`);
    await row.getByRole('button', { name: 'Cancel the auction of Mantel clock, walnut case' }).click();
    const dialog = page.getByRole('dialog');
    // A reason is asked for before anything is sent.
    await dialog.getByRole('button', { name: 'Cancel the auction' }).click();
    await expect.poll(() => dialog.getByRole('alert').textContent(), POLL).toContain('Say why');
    await dialog.getByLabel('Reason').fill('Withdrawn by the owner');
    await dialog.getByRole('button', { name: 'Cancel the auction' }).click();
    await expect.poll(() => row.textContent(), POLL).toContain('Cancelled');
    expect((await seller.api.call<{ live: { status: string } }>('GET', `/api/auctions/${auction.id}`)).live.status).toBe('cancelled');
    expect(errors).toEqual([]);
  }, 60_000);
});
