// The watchlist and the shop from the web app: a buyer stars an auction and finds it under My
// Gavel → Watchlist; buys a product and follows the purchase's saga to "completed", step by
// step; then a purchase the wallet cannot pay ends "compensated" with the reason shown, and
// the stock it had reserved is on sale again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credit, HAVE_CHROMIUM, newPerson, openAuction, POLL, signedInContext, useWebApp, watchErrors } from './support.js';

describe.skipIf(!HAVE_CHROMIUM)('web app: the watchlist and the shop', () => {
  const web = useWebApp({ beforeAll, afterAll });

  it('a buyer stars an auction on its page and finds it, starred, on their watchlist', async () => {
    const seller = await newPerson(web.url, 'Sasha Seller', ['seller']);
    const buyer = await newPerson(web.url, 'Wendy Watcher');
    const auction = await openAuction(web.admin, seller, { title: 'Walnut writing desk', startsInMs: 3_600_000 });
    const context = await signedInContext(web.browser, web.url, buyer.api.token);
    const page = await context.newPage();
    const errors = watchErrors(page);

    await page.goto(`/auctions/${auction.id}`);
    const star = page.getByRole('button', { name: 'Watch', exact: true });
    await expect.poll(() => star.getAttribute('aria-pressed'), POLL).toBe('false');
    await star.click();
    await expect.poll(() => star.getAttribute('aria-pressed'), POLL).toBe('true');
    const listed = await buyer.api.call<{ items: Array<{ id: string; watchedAt: string }> }>('GET', '/api/me/watchlist');
    expect(listed.items.map((i) => i.id)).toEqual([auction.id]);

    // My Gavel → Watchlist: the auction's card, its star on.
    await page.getByRole('button', { name: /^Account/ }).click();
    await page.getByRole('link', { name: 'Watchlist', exact: true }).click();
    await page.waitForURL(/\/me\/watchlist$/);
    const card = page.getByTestId('watchlist').getByTestId('auction-card');
    await expect.poll(() => card.count(), POLL).toBe(1);
    expect(await card.textContent()).toContain('Walnut writing desk');
    const cardStar = page.getByRole('button', { name: 'Watch Walnut writing desk' });
    expect(await cardStar.getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByRole('navigation', { name: 'My Gavel' }).getByRole('link', { name: 'Watchlist', exact: true }).getAttribute('aria-current')).toBe('page');

    // The star on the card takes it off the list (keyboard: focus and Space).
    await cardStar.focus();
    await page.keyboard.press('Space');
    await expect.poll(() => cardStar.getAttribute('aria-pressed'), POLL).toBe('false');
    await expect.poll(async () => (await buyer.api.call<{ auctionIds: string[] }>('GET', '/api/me/watchlist/ids')).auctionIds, POLL).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  it('a purchase shows its steps until completed; one the wallet cannot pay ends compensated with the reason, and the stock is back', async () => {
    const seller = await newPerson(web.url, 'Priya Potter', ['seller']);
    const buyer = await newPerson(web.url, 'Bea Buyer');
    const category = await web.admin.call<{ id: string }>('POST', '/api/categories', { name: 'Ceramics' });
    const product = await seller.api.call<{ id: string }>('POST', '/api/products', { title: 'Glazed stoneware mug', description: 'Thrown by hand; holds 350 ml.', categoryId: category.id, price: '20.00', currency: 'USD', stock: 5 });
    await credit(web.admin, buyer.id, 'USD', '30.00');

    const context = await signedInContext(web.browser, web.url, buyer.api.token);
    const page = await context.newPage();
    const errors = watchErrors(page);

    // The shop lists it; its page sells it.
    await page.goto('/');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Shop', exact: true }).click();
    await page.waitForURL(/\/shop$/);
    const card = page.getByTestId('product-card').filter({ hasText: 'Glazed stoneware mug' });
    await expect.poll(() => card.count(), POLL).toBe(1);
    expect(await card.textContent()).toContain('$20.00');
    await card.click();
    await page.waitForURL(new RegExp(`/shop/${product.id}$`));
    await expect.poll(() => page.getByTestId('buy-currency').textContent(), POLL).toContain('$30.00 available');

    // A quantity the stock cannot meet is refused in the form; then one mug.
    const quantity = page.getByLabel('Quantity');
    await quantity.fill('9');
    await page.getByRole('button', { name: 'Buy now' }).click();
    await expect.poll(() => page.locator('#buy-quantity-error').textContent(), POLL).toContain('1 to 5');
    await quantity.fill('1');
    expect(await page.getByTestId('buy-total').textContent()).toBe('$20.00');
    await page.getByRole('button', { name: 'Buy now' }).click();
    await page.waitForURL(/\/purchases\/[0-9a-f-]{36}$/);
    const status = page.getByTestId('purchase-status');
    await expect.poll(() => status.getAttribute('data-status'), POLL).toBe('completed');
    expect(await status.textContent()).toContain('Purchase complete');
    expect(await status.textContent()).toContain('$20.00');
    for (const step of ['ValidateInventory', 'ReserveProducts', 'ChargeWallet', 'CreateOrder']) {
      expect(await page.getByTestId(`step-${step}`).getAttribute('data-status'), step).toBe('succeeded');
    }
    expect(await page.getByTestId('step-ChargeWallet').textContent()).toContain('Done');
    await expect.poll(() => page.getByTestId('wallet-balance').getAttribute('aria-label'), POLL).toBe('Wallet: $10.00 USD available');

    // A second mug costs more than the wallet holds: the page warns, the saga refuses and undoes.
    await page.goto(`/shop/${product.id}`);
    await expect.poll(() => page.getByText('the payment step will be refused').count(), POLL).toBe(1);
    await page.getByRole('button', { name: 'Buy now' }).click();
    await page.waitForURL(/\/purchases\/[0-9a-f-]{36}$/);
    await expect.poll(() => status.getAttribute('data-status'), POLL).toBe('compensated');
    const told = await status.textContent();
    expect(told).toContain('Purchase not completed');
    expect(told).toContain('Your USD wallet did not hold enough available money');
    expect(told).toContain('Nothing was charged');
    expect(await page.getByTestId('step-ChargeWallet').getAttribute('data-status')).toBe('failed');
    expect(await page.getByTestId('step-ReserveProducts').getAttribute('data-status')).toBe('compensated');
    expect(await page.getByTestId('step-ReserveProducts').textContent()).toContain('The units went back on sale.');
    expect(await page.getByTestId('step-CreateOrder').getAttribute('data-status')).toBe('pending');

    // The server agrees: one unit sold, nothing left reserved, the wallet as after the first.
    const after = await buyer.api.call<{ stock: number; reserved: number; available: number }>('GET', `/api/products/${product.id}`);
    expect(after).toMatchObject({ stock: 4, reserved: 0, available: 4 });
    const wallets = await buyer.api.call<{ items: Array<{ currency: string; available: string; held: string }> }>('GET', '/api/wallets');
    expect(wallets.items).toEqual([expect.objectContaining({ currency: 'USD', available: '10.00', held: '0.00' })]);

    // My Gavel → Purchases: both, newest first.
    await page.goto('/me/purchases');
    const rows = page.locator('table.data tbody tr');
    await expect.poll(() => rows.count(), POLL).toBe(2);
    expect(await rows.nth(0).textContent()).toContain('Not completed');
    expect(await rows.nth(1).textContent()).toContain('Completed');
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it('works at phone width: the shop, a product and its buy button fit the screen', async () => {
    const seller = await newPerson(web.url, 'Pat Printer', ['seller']);
    const category = await web.admin.call<{ id: string }>('POST', '/api/categories', { name: 'Prints' });
    const product = await seller.api.call<{ id: string }>('POST', '/api/products', { title: 'Harbour at dawn, giclée print', description: 'A4, signed.', categoryId: category.id, price: '45.00', currency: 'USD', stock: 2 });
    const buyer = await newPerson(web.url, 'Phoebe Phone');
    const context = await signedInContext(web.browser, web.url, buyer.api.token, { width: 390, height: 844 });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`/shop/${product.id}`);
    const buy = page.getByRole('button', { name: 'Buy now' });
    await expect.poll(() => buy.count(), POLL).toBe(1);
    const box = await buy.boundingBox();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);
});
