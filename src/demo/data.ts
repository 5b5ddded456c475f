// What the demo seeds: fixed accounts, a small category tree, lots with their auctions, the
// wallets' funding and an exchange book. Plain data, so docs/demo.md and the tests can name
// the same things the seed creates. Times are offsets from the moment of seeding.
import type { UserRole } from '../platform/auth/principal.js';
import type { Rgb } from './png.js';

/** Every demo e-mail address ends with this (a reserved domain: mail to it goes nowhere). */
export const DEMO_DOMAIN = 'gavel.example';

export type DemoPart = 'admin' | 'seller' | 'auctioneer' | 'bidder' | 'trader' | 'bot-bidder' | 'bot-trader';

export interface DemoAccount {
  /** The handle the seed and the bots use; also the local part of the e-mail address. */
  handle: string;
  name: string;
  email: string;
  /** Public, documented, at least 10 characters: these are demo accounts. */
  password: string;
  roles: UserRole[];
  part: DemoPart;
}

function account(handle: string, name: string, roles: UserRole[], part: DemoPart): DemoAccount {
  return { handle, name, email: `${handle}@${DEMO_DOMAIN}`, password: `demo-${handle}-pass`, roles, part };
}

export const DEMO_ACCOUNTS: readonly DemoAccount[] = [
  account('admin', 'Ada Admin', ['admin'], 'admin'),
  account('seller', 'Sam Seller', ['bidder', 'seller'], 'seller'),
  account('auctioneer', 'Avery Auctioneer', ['auctioneer'], 'auctioneer'),
  account('alice', 'Alice Bidder', ['bidder'], 'bidder'),
  account('bob', 'Bob Bidder', ['bidder'], 'bidder'),
  account('carol', 'Carol Bidder', ['bidder'], 'bidder'),
  account('tara', 'Tara Trader', ['bidder'], 'trader'),
  account('tom', 'Tom Trader', ['bidder'], 'trader'),
  // The --demo-bots act as these; seeded always, so bots can be switched on any later start.
  account('bidbot1', 'Bidding Bot One', ['bidder'], 'bot-bidder'),
  account('bidbot2', 'Bidding Bot Two', ['bidder'], 'bot-bidder'),
  account('tradebot1', 'Trading Bot One', ['bidder'], 'bot-trader'),
  account('tradebot2', 'Trading Bot Two', ['bidder'], 'bot-trader'),
];

export function demoAccount(handle: string): DemoAccount {
  const found = DEMO_ACCOUNTS.find((a) => a.handle === handle);
  if (!found) throw new Error(`no demo account ${handle}`);
  return found;
}

/** Top-ups through the sandbox payment provider, per part, in major units. */
export const DEMO_FUNDING: Partial<Record<DemoPart, ReadonlyArray<{ currency: string; amount: string }>>> = {
  bidder: [
    { currency: 'USD', amount: '10000.00' },
    { currency: 'EUR', amount: '5000.00' },
  ],
  trader: [
    { currency: 'USD', amount: '100000.00' },
    { currency: 'EUR', amount: '10000.00' },
  ],
  'bot-bidder': [
    { currency: 'USD', amount: '25000.00' },
    { currency: 'EUR', amount: '15000.00' },
  ],
  'bot-trader': [
    { currency: 'USD', amount: '100000.00' },
    { currency: 'EUR', amount: '10000.00' },
  ],
};

/** The category tree: top-level names and their children. */
export const DEMO_CATEGORIES: ReadonlyArray<{ name: string; children: readonly string[] }> = [
  { name: 'Art', children: ['Paintings', 'Prints'] },
  { name: 'Collectibles', children: ['Coins', 'Watches'] },
  { name: 'Electronics', children: ['Cameras', 'Audio'] },
];

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * How a lot is sold. `running`: a timed auction open now, ending `endsInMs` from now, with
 * `bids` placed by the named bidders one after another (each at the next step of the ladder,
 * or with a proxy maximum). `scheduled`: a timed auction that opens later. `live`: a sale run
 * by the auctioneer, opened now (`open`) or advertised for later.
 */
export type DemoSale =
  | { kind: 'running'; currency: string; startingPrice: string; reserve?: string; buyNow?: string; endsInMs: number; bids: ReadonlyArray<{ by: string; max?: string }> }
  | { kind: 'scheduled'; currency: string; startingPrice: string; startsInMs: number; endsInMs: number }
  | { kind: 'live'; currency: string; startingPrice: string; open: boolean; startsInMs: number; onlineBids: readonly string[]; floorBids: readonly string[] };

export interface DemoLot {
  title: string;
  description: string;
  /** "Parent › Child" of DEMO_CATEGORIES. */
  category: string;
  condition: 'new' | 'like_new' | 'used_good' | 'used_fair' | 'for_parts';
  colours: readonly [Rgb, Rgb];
  sale: DemoSale;
}

export const DEMO_LOTS: readonly DemoLot[] = [
  {
    title: 'Harbour at Dusk, oil on canvas',
    description: 'A small harbour scene at the last light of the day, oil on canvas, 40 × 30 cm, signed lower right. In a gilt frame with light wear to the corners.',
    category: 'Art › Paintings',
    condition: 'used_good',
    colours: [[32, 54, 96], [230, 140, 70]],
    sale: { kind: 'running', currency: 'USD', startingPrice: '180.00', endsInMs: 3 * HOUR_MS, bids: [{ by: 'alice' }, { by: 'bob' }, { by: 'alice' }] },
  },
  {
    title: 'Still Life with Lemons',
    description: 'Lemons, a blue jug and a folded napkin on a kitchen table. Oil on board, 30 × 24 cm, unframed. A confident amateur hand, about 1950.',
    category: 'Art › Paintings',
    condition: 'used_good',
    colours: [[240, 210, 60], [40, 80, 150]],
    sale: { kind: 'running', currency: 'EUR', startingPrice: '95.00', endsInMs: 1 * DAY_MS, bids: [{ by: 'carol' }, { by: 'bob', max: '140.00' }] },
  },
  {
    title: 'The Great Wave, woodblock print after Hokusai',
    description: 'A later Japanese woodblock impression of the famous design, 25 × 37 cm, on washi paper. Good colour, small margin tear away from the image.',
    category: 'Art › Prints',
    condition: 'used_fair',
    colours: [[20, 50, 110], [220, 230, 235]],
    sale: { kind: 'running', currency: 'USD', startingPrice: '60.00', endsInMs: 6 * HOUR_MS, bids: [] },
  },
  {
    title: 'Bauhaus exhibition poster, 1923 design (reprint)',
    description: 'A lithographic reprint of the 1923 Bauhaus exhibition poster, 68 × 48 cm, rolled, never framed.',
    category: 'Art › Prints',
    condition: 'like_new',
    colours: [[200, 40, 40], [30, 30, 30]],
    sale: { kind: 'scheduled', currency: 'EUR', startingPrice: '40.00', startsInMs: 4 * HOUR_MS, endsInMs: 2 * DAY_MS },
  },
  {
    title: '1909-S VDB Lincoln cent',
    description: 'The key date of the Lincoln cent series, with the designer\'s initials on the reverse. Honest wear, even brown colour, no cleaning. A reserve applies.',
    category: 'Collectibles › Coins',
    condition: 'used_good',
    colours: [[120, 70, 40], [210, 150, 90]],
    sale: { kind: 'running', currency: 'USD', startingPrice: '450.00', reserve: '600.00', endsInMs: 2 * DAY_MS, bids: [{ by: 'bob' }, { by: 'carol', max: '520.00' }] },
  },
  {
    title: 'Roman silver denarius of Trajan',
    description: 'Silver denarius, Rome mint, about AD 103–111. Laureate head right; reverse with a standing figure. 3.2 g, well centred.',
    category: 'Collectibles › Coins',
    condition: 'used_good',
    colours: [[150, 150, 160], [60, 60, 70]],
    sale: { kind: 'live', currency: 'USD', startingPrice: '300.00', open: true, startsInMs: 0, onlineBids: ['bob'], floorBids: ['7'] },
  },
  {
    title: '1960s Swiss chronograph, manual wind',
    description: 'A 36 mm steel chronograph with a two-register silver dial and a manual-wind column-wheel movement. Runs and times; serviced two years ago. Buy it now or bid.',
    category: 'Collectibles › Watches',
    condition: 'used_good',
    colours: [[190, 190, 185], [20, 30, 45]],
    sale: { kind: 'running', currency: 'EUR', startingPrice: '800.00', buyNow: '2000.00', endsInMs: 5 * DAY_MS, bids: [] },
  },
  {
    title: 'Gold-filled pocket watch, 1890s',
    description: 'A hunter-case pocket watch with an enamel dial and a 15-jewel movement, engraved case, running. Sold live by the auctioneer tomorrow.',
    category: 'Collectibles › Watches',
    condition: 'used_fair',
    colours: [[200, 160, 60], [90, 60, 20]],
    sale: { kind: 'live', currency: 'EUR', startingPrice: '250.00', open: false, startsInMs: 1 * DAY_MS, onlineBids: [], floorBids: [] },
  },
  {
    title: 'Leica M3 rangefinder with 50 mm Summicron',
    description: 'A single-stroke M3 body with a collapsible 50 mm f/2 Summicron. Shutter speeds sound, rangefinder bright and aligned, light brassing on the top plate.',
    category: 'Electronics › Cameras',
    condition: 'used_good',
    colours: [[25, 25, 25], [170, 170, 170]],
    sale: { kind: 'running', currency: 'USD', startingPrice: '1200.00', endsInMs: 1 * HOUR_MS, bids: [{ by: 'carol' }, { by: 'alice', max: '1500.00' }, { by: 'bob' }] },
  },
  {
    title: 'Technics SL-1200 turntable',
    description: 'The direct-drive classic, silver, with its dust cover and a recent cartridge. Pitch control and strobe work; a few light scratches on the plinth.',
    category: 'Electronics › Audio',
    condition: 'used_good',
    colours: [[160, 160, 165], [40, 40, 45]],
    sale: { kind: 'running', currency: 'USD', startingPrice: '250.00', endsInMs: 12 * HOUR_MS, bids: [{ by: 'alice' }] },
  },
  {
    title: 'Valve stereo amplifier, EL84 push-pull',
    description: 'A hand-wired stereo amplifier with EL84 output valves, about 12 W a channel. New capacitors in the power supply; a little hum on the left channel at full volume.',
    category: 'Electronics › Audio',
    condition: 'used_fair',
    colours: [[90, 50, 30], [250, 170, 80]],
    sale: { kind: 'scheduled', currency: 'USD', startingPrice: '150.00', startsInMs: 1 * DAY_MS, endsInMs: 3 * DAY_MS },
  },
];

/** The exchange instrument: an asset issued to the traders and listed against USD. */
export const DEMO_ASSET = { code: 'ACME', scale: 0, name: 'Acme Corporation shares' } as const;
export const DEMO_INSTRUMENT = { base: 'ACME', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQuantity: '100000', makerFeeBps: 10, takerFeeBps: 20 } as const;
export const DEMO_SYMBOL = 'ACME-USD';
/** ACME shares issued to each trader and trading bot (admin issuance against the asset's issuance account). */
export const DEMO_ASSET_ISSUE = 2_000n;

/**
 * Orders placed in this order: a first trade at 100.00 (so there is a last price and a
 * candle), then a resting book four levels deep on each side.
 */
export const DEMO_ORDERS: ReadonlyArray<{ by: string; side: 'buy' | 'sell'; price: string; quantity: string }> = [
  { by: 'tara', side: 'buy', price: '100.00', quantity: '5' },
  { by: 'tom', side: 'sell', price: '100.00', quantity: '5' },
  { by: 'tara', side: 'buy', price: '99.50', quantity: '10' },
  { by: 'tara', side: 'buy', price: '99.00', quantity: '20' },
  { by: 'tara', side: 'buy', price: '98.50', quantity: '30' },
  { by: 'tara', side: 'buy', price: '98.00', quantity: '50' },
  { by: 'tom', side: 'sell', price: '100.50', quantity: '10' },
  { by: 'tom', side: 'sell', price: '101.00', quantity: '20' },
  { by: 'tom', side: 'sell', price: '101.50', quantity: '30' },
  { by: 'tom', side: 'sell', price: '102.00', quantity: '50' },
];
