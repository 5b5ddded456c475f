// Screenshots of the web app's main pages for the README and docs/web.md:
//   npm run screenshots              → docs/screenshots/*.png (builds the app first if stale)
//   npm run screenshots -- --serve   → the same seeded node, left running for a look around
// A node starts on 127.0.0.1 with a temp data dir, is filled through the API with a small
// auction house (categories, lots with images, bids, an instrument with a book and trades),
// and headless Chromium takes each page at desktop and phone sizes.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { adminApi, credit, ensureWebBuild, launchBrowser, listInstrument, newPerson, openAuction, REPO_ROOT, signedInContext, startWebNode, waitOpen, type Api, type Person } from './support.js';

const OUT = join(REPO_ROOT, 'docs/screenshots');
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

async function category(admin: Api, name: string, parentId?: string): Promise<string> {
  return (await admin.call<{ id: string }>('POST', '/api/categories', { name, ...(parentId && { parentId }) })).id;
}

export async function seedShowroom(url: string) {
  const admin = await adminApi(url);
  const art = await category(admin, 'Fine art');
  const paintings = await category(admin, 'Paintings', art);
  const prints = await category(admin, 'Prints', art);
  const watches = await category(admin, 'Watches');
  const cameras = await category(admin, 'Cameras');
  const film = await category(admin, 'Film cameras', cameras);
  const furniture = await category(admin, 'Furniture');
  await category(admin, 'Mid-century', furniture);

  const gallery = await newPerson(url, 'Marlow and Finch Gallery', ['seller']);
  const ada = await newPerson(url, 'Ada Lovelace');
  const ben = await newPerson(url, 'Ben Okafor');
  const trader = await newPerson(url, 'Tess Trader');
  for (const p of [ada, ben, trader]) await credit(admin, p.id, 'USD', '5000.00');
  await credit(admin, ada.id, 'EUR', '800.00');
  await admin.call('PUT', '/api/ledger/rates/USD/EUR', { rate: '0.9215', spreadBps: 50 });
  await admin.call('PUT', '/api/ledger/rates/EUR/USD', { rate: '1.0790', spreadBps: 50 });

  const painting = await openAuction(admin, gallery, {
    title: 'Harbour at dusk, oil on canvas',
    description: 'Oil on canvas, 60 × 45 cm, signed lower right. A small fishing harbour at dusk, boats drawn up on the shingle.\n\nProvenance: a private collection, Falmouth.',
    category: paintings,
    startingPrice: '120.00',
    reserve: '200.00',
    endsInMs: 95_000,
    hue: 210,
  });
  const watch = await openAuction(admin, gallery, { title: 'Omega Seamaster, 1962, steel', category: watches, startingPrice: '450.00', endsInMs: 2 * 3600_000, hue: 30 });
  const leica = await openAuction(admin, gallery, { title: 'Leica M3 with 50 mm Summicron', category: film, startingPrice: '900.00', buyNow: '2400.00', endsInMs: 26 * 3600_000, hue: 0 });
  await openAuction(admin, gallery, { title: 'Linocut, “Fen at morning”, signed 3/20', category: prints, startingPrice: '40.00', endsInMs: 5 * 3600_000, hue: 120 });
  await openAuction(admin, gallery, { title: 'Walnut lounge chair and ottoman', category: furniture, startingPrice: '300.00', startsInMs: 3 * 3600_000, endsInMs: 3 * 86400_000, hue: 25 });
  for (const a of [painting, watch, leica]) await waitOpen(admin, a.id);

  const bid = async (p: Person, auctionId: string, amount: string, max?: string) => {
    await p.api.call('POST', `/api/auctions/${auctionId}/join`).catch(() => {});
    await p.api.call('POST', `/api/auctions/${auctionId}/bids`, { amount, currency: 'USD', ...(max && { max }) });
  };
  await bid(ben, painting.id, '120.00');
  await bid(ada, painting.id, '125.00');
  await bid(ben, painting.id, '150.00', '210.00');
  await bid(ada, painting.id, '215.00', '260.00');
  await bid(ben, watch.id, '450.00');
  await bid(ada, watch.id, '460.00');

  const symbol = await listInstrument(admin);
  await credit(admin, trader.id, 'ACME', '500');
  await credit(admin, ada.id, 'ACME', '40');
  const order = (p: Person, side: string, price: string, quantity: string) => p.api.call('POST', '/api/exchange/orders', { symbol, side, type: 'limit', price, quantity });
  for (const [price, qty] of [['52.40', '12'], ['52.10', '30'], ['51.85', '8'], ['51.60', '25']] as const) await order(trader, 'sell', price, qty);
  for (const [price, qty] of [['51.20', '10'], ['50.95', '22'], ['50.70', '15'], ['50.40', '40']] as const) await order(ben, 'buy', price, qty);
  await order(ada, 'buy', '51.60', '5');
  await order(ada, 'sell', '51.20', '3');
  await order(ada, 'buy', '50.00', '6');
  const { auctioneer, liveSale } = await seedLiveSale(url, admin, gallery, watches, ben);
  return { admin, ada, ben, trader, gallery, painting, watch, leica, symbol, auctioneer, liveSale };
}

/** A live sale under way: opened by its auctioneer, an asking price, a floor bid, an online bid, a word to the room. */
async function seedLiveSale(url: string, admin: Api, seller: Person, categoryId: string, online: Person) {
  const appointee = await newPerson(url, 'Avery Auctioneer');
  await admin.call('PUT', '/api/user', { id: appointee.id, roles: ['bidder', 'auctioneer'] });
  const auctioneer: Person = { ...appointee, api: await appointee.api.signIn(appointee.email, appointee.password) };
  const lot = await seller.api.call<{ id: string }>('POST', '/api/lots', { title: 'Victorian silver tea service, 1878', description: 'Teapot, sugar bowl and cream jug, London 1878. Sold live.', categoryId, condition: 'used_good' });
  const created = await seller.api.call<{ auction: { id: string } }>('POST', '/api/auctions', { lotId: lot.id, kind: 'live', currency: 'USD', startingPrice: '300.00', reserve: '400.00', startsAt: new Date().toISOString(), auctioneerId: auctioneer.id });
  const liveSale = created.auction.id;
  const act = (body: Record<string, string>) => auctioneer.api.call('POST', `/api/auctions/${liveSale}/console`, body);
  await act({ action: 'open' });
  await act({ action: 'floor-bid', paddle: '12', amount: '300.00' });
  await online.api.call('POST', `/api/auctions/${liveSale}/join`);
  await online.api.call('POST', `/api/auctions/${liveSale}/bids`, { amount: '320.00', currency: 'USD' });
  await act({ action: 'asking', amount: '350.00' });
  await act({ action: 'floor-bid', paddle: '27', amount: '350.00' });
  await act({ action: 'chat', text: 'With the lady on the aisle at $350. Any advance online?' });
  return { auctioneer, liveSale };
}

async function shoot(page: Page, name: string, path: string, waitFor: string) {
  await page.goto(path);
  await page.waitForSelector(waitFor);
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.waitForTimeout(600);
  await page.screenshot({ path: join(OUT, `${name}.png`) });
  console.log(`  docs/screenshots/${name}.png`);
}

async function main() {
  const serve = process.argv.includes('--serve');
  await ensureWebBuild();
  const web = await startWebNode();
  console.log(`Gavel at ${web.url}; seeding…`);
  const seeded = await seedShowroom(web.url);
  if (serve) {
    console.log(`Seeded. Sign in as ${seeded.ada.email} / ${seeded.ada.password} (or ${seeded.trader.email} / ${seeded.trader.password}). Ctrl-C stops.`);
    process.on('SIGINT', () => void web.stop().then(() => process.exit(0)));
    return;
  }
  mkdirSync(OUT, { recursive: true });
  const browser = await launchBrowser();
  try {
    const anonymous = await (await signedInContext(browser, web.url, null, DESKTOP)).newPage();
    await shoot(anonymous, 'home', '/', '[data-testid=auction-card] img');
    await shoot(anonymous, 'search', '/auctions?q=leica', '[data-testid=auction-card]');
    const ada = await (await signedInContext(browser, web.url, seeded.ada.api.token, DESKTOP)).newPage();
    await shoot(ada, 'auction', `/auctions/${seeded.painting.id}`, '[data-testid=bid-history] li');
    await shoot(ada, 'wallet', '/wallet/USD', '[data-testid=balance-USD]');
    await shoot(ada, 'trade', `/trade/${seeded.symbol}`, '[data-testid=open-orders]');
    await shoot(ada, 'notifications', '/notifications', '.notification');
    const rostrum = await (await signedInContext(browser, web.url, seeded.auctioneer.api.token, DESKTOP)).newPage();
    await shoot(rostrum, 'console', `/console/${seeded.liveSale}`, '[data-testid=console-history] li');
    const gallery = await (await signedInContext(browser, web.url, seeded.gallery.api.token, DESKTOP)).newPage();
    await shoot(gallery, 'sell', '/sell', '[data-testid=my-auction]');
    await shoot(gallery, 'sell-results', `/sell/auctions/${seeded.painting.id}`, '[data-testid=chart-price] svg circle');
    const phone = await (await signedInContext(browser, web.url, seeded.ada.api.token, PHONE)).newPage();
    await shoot(phone, 'phone-home', '/', '[data-testid=auction-card]');
    await shoot(phone, 'phone-auction', `/auctions/${seeded.painting.id}`, '[data-testid=current-price]');
  } finally {
    await browser.close();
    await web.stop();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
