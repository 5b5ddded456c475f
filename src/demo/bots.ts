// Demo bots (`gavel start --demo-bots`): simulated bidders and traders, so a newcomer sees a
// room that moves. Each bot signs in as its demo account (data.ts), then acts now and then on
// its own timer, one action at a time: a bidding bot raises the price of a random open auction
// by one step of its ladder; a trading bot quotes ACME-USD around a drifting fair price and
// sometimes takes a price, keeping few orders on the book. Every action goes through the
// modules' services, with the checks and holds a person's would have; a refusal (funds,
// a closed auction) is counted and the bot carries on. Bounded: one action in flight per bot,
// a fixed pause between actions, a price ceiling per auction, a cap on each bot's open orders.
import type { GavelNode } from '../gavel.js';
import type { Principal } from '../platform/auth/principal.js';
import { systemClock, type Clock } from '../platform/clock.js';
import { AppError } from '../platform/errors.js';
import { formatAmount } from '../platform/money.js';
import type { Logger } from '../platform/logging.js';
import { priceText, quantityText } from '../exchange/service.js';
import { DEMO_ACCOUNTS, DEMO_SYMBOL, type DemoAccount } from './data.js';
import { signIn } from './seed.js';

/** A pause drawn uniformly from [minMs, maxMs]. */
export interface Pause {
  minMs: number;
  maxMs: number;
}

export interface BotTiming {
  /** Before a bot's first action. */
  first: Pause;
  /** Between a bidding bot's actions. */
  bidder: Pause;
  /** Between a trading bot's actions. */
  trader: Pause;
}

/** About 3 bids a minute from the two bidding bots, 15 orders a minute from the two traders. */
export const BOT_TIMING: BotTiming = {
  first: { minMs: 1_000, maxMs: 4_000 },
  bidder: { minMs: 20_000, maxMs: 60_000 },
  trader: { minMs: 4_000, maxMs: 12_000 },
};

/** Bidding bots stop raising an auction once its next bid would pass this many times its starting price. */
export const BOT_PRICE_CEILING_FACTOR = 3n;
/** A trading bot keeps at most this many orders resting; older ones are cancelled. */
export const BOT_OPEN_ORDERS_MAX = 6;
/** The drifting fair price stays within this band, in ticks (0.01 USD): 80.00–120.00. */
const FAIR_TICKS_MIN = 8_000;
const FAIR_TICKS_MAX = 12_000;
const FAIR_TICKS_START = 10_000;
/** The address bot sign-ins are recorded from. */
export const BOTS_ADDRESS = 'demo-bots';

export interface BotStats {
  bids: number;
  orders: number;
  cancels: number;
  /** Actions the services refused (not enough money, auction closed meanwhile …): expected now and then. */
  refusals: number;
  /** Anything else that went wrong (logged). */
  failures: number;
}

export interface BotOptions {
  logger: Logger;
  clock?: Clock;
  timing?: BotTiming;
  /** [0, 1); Math.random unless given. */
  random?: () => number;
}

export type BotsStart = { started: true; bots: DemoBots } | { started: false; reason: string };

interface Bot {
  account: DemoAccount;
  principal: Principal;
  pause: Pause;
  act(): Promise<void>;
  timer?: NodeJS.Timeout | undefined;
  running?: Promise<void> | undefined;
}

export class DemoBots {
  private readonly counts: BotStats = { bids: 0, orders: 0, cancels: 0, refusals: 0, failures: 0 };
  private readonly bots: Bot[] = [];
  private stopped = false;
  private fairTicks = FAIR_TICKS_START;
  private readonly clock: Clock;
  private readonly timing: BotTiming;
  private readonly random: () => number;

  private constructor(
    private readonly node: GavelNode,
    private readonly o: BotOptions,
  ) {
    this.clock = o.clock ?? systemClock;
    this.timing = o.timing ?? BOT_TIMING;
    this.random = o.random ?? Math.random;
  }

  /** Signs the bot accounts in and starts their timers; not started when the demo accounts are missing. */
  static async start(node: GavelNode, options: BotOptions): Promise<BotsStart> {
    const bots = new DemoBots(node, options);
    const accounts = DEMO_ACCOUNTS.filter((a) => a.part === 'bot-bidder' || a.part === 'bot-trader');
    for (const account of accounts) {
      let principal: Principal;
      try {
        principal = await signIn(node, account, bots.clock, BOTS_ADDRESS);
      } catch (error) {
        if (error instanceof AppError) return { started: false, reason: `${account.email} cannot sign in (${error.code}): the database holds no demo data, or its bot accounts were changed` };
        throw error;
      }
      bots.add(account, principal);
    }
    if (!node.exchange.engine.market(DEMO_SYMBOL)) return { started: false, reason: `this node holds no ${DEMO_SYMBOL} book (it is not running the engine role, or the demo data was not seeded)` };
    for (const bot of bots.bots) bots.schedule(bot, bots.timing.first);
    options.logger.info({ bidders: accounts.filter((a) => a.part === 'bot-bidder').length, traders: accounts.filter((a) => a.part === 'bot-trader').length, pace: describeTiming(bots.timing) }, 'demo bots started');
    return { started: true, bots };
  }

  stats(): BotStats {
    return { ...this.counts };
  }

  /** Stops every timer and waits for actions in flight; safe to call twice. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      for (const bot of this.bots) clearTimeout(bot.timer);
    }
    await Promise.all(this.bots.map((b) => b.running));
    this.o.logger.info({ ...this.counts }, 'demo bots stopped');
  }

  private add(account: DemoAccount, principal: Principal): void {
    const bot: Bot =
      account.part === 'bot-bidder'
        ? { account, principal, pause: this.timing.bidder, act: () => this.bidOnce(bot) }
        : { account, principal, pause: this.timing.trader, act: () => this.tradeOnce(bot) };
    this.bots.push(bot);
  }

  private schedule(bot: Bot, pause: Pause): void {
    if (this.stopped) return;
    const waitMs = pause.minMs + Math.floor(this.random() * (pause.maxMs - pause.minMs + 1));
    bot.timer = setTimeout(() => {
      bot.timer = undefined;
      bot.running = bot
        .act()
        .catch((error: unknown) => this.failed(bot, error))
        .finally(() => {
          bot.running = undefined;
          this.schedule(bot, bot.pause);
        });
    }, waitMs);
    bot.timer.unref();
  }

  private failed(bot: Bot, error: unknown): void {
    if (error instanceof AppError) {
      this.counts.refusals += 1;
      this.o.logger.debug({ bot: bot.account.handle, code: error.code, detail: error.message }, 'demo bot: refused');
      return;
    }
    this.counts.failures += 1;
    this.o.logger.warn({ bot: bot.account.handle, err: error }, 'demo bot: an action failed');
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.random() * items.length)];
  }

  private between(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  // --- bidding ---------------------------------------------------------------------------------

  /**
   * Open auctions are found as a visitor finds them, through the public discovery endpoint;
   * the bid itself goes through the auctions service as the bot.
   */
  private async openAuctions(): Promise<Array<{ id: string; sellerId: string }>> {
    const res = await this.node.http.inject({ method: 'GET', url: '/api/auctions?status=open&limit=100' });
    if (res.statusCode !== 200) throw new Error(`demo bot: discovery answered ${res.statusCode}`);
    return (JSON.parse(res.body) as { items: Array<{ id: string; sellerId: string }> }).items;
  }

  private async bidOnce(bot: Bot): Promise<void> {
    const auctions = this.node.auctions.service;
    const me = bot.principal;
    const candidates = (await this.openAuctions()).filter((a) => a.sellerId !== me.userId);
    // A few tries for an auction the bot does not lead and that is still below its ceiling.
    for (let attempt = 0; attempt < 3 && !this.stopped; attempt++) {
      const choice = this.pick(candidates);
      if (!choice) return;
      const page = await auctions.page(me, choice.id);
      const next = page.nextBidsMinor[0];
      if (page.view.status !== 'open' || page.view.phase === 'paused' || page.me?.leading || next === undefined) continue;
      if (next > page.view.startingPriceMinor * BOT_PRICE_CEILING_FACTOR) continue;
      await auctions.join(me, choice.id);
      await auctions.bid(me, choice.id, { amount: formatAmount(next, page.view.currencyScale), currency: page.auction.currency });
      this.counts.bids += 1;
      this.o.logger.debug({ bot: bot.account.handle, auctionId: choice.id, amount: formatAmount(next, page.view.currencyScale), currency: page.auction.currency }, 'demo bot: bid');
      return;
    }
  }

  // --- trading ---------------------------------------------------------------------------------

  private async tradeOnce(bot: Bot): Promise<void> {
    const exchange = this.node.exchange.service;
    const me = bot.principal;
    this.fairTicks = Math.min(FAIR_TICKS_MAX, Math.max(FAIR_TICKS_MIN, this.fairTicks + this.between(-8, 8)));
    const { instrument, bids, asks } = await exchange.depth(DEMO_SYMBOL, 1);
    const side = this.random() < 0.5 ? 'buy' : 'sell';
    const touch = side === 'buy' ? asks[0] : bids[0];
    if (touch && this.random() < 0.3) {
      // Take: a small order at the other side's best price, whatever does not fill is dropped.
      const lots = Math.min(this.between(1, 5), touch[1]);
      await exchange.place(me, { symbol: DEMO_SYMBOL, side, type: 'limit', price: priceText(instrument, touch[0]), quantity: quantityText(instrument, lots), timeInForce: 'ioc' });
    } else {
      // Quote: a resting order on its own side of the fair price, never crossing.
      const away = this.between(1, 40);
      let ticks = side === 'buy' ? this.fairTicks - away : this.fairTicks + away;
      if (side === 'buy' && asks[0]) ticks = Math.min(ticks, asks[0][0] - 1);
      if (side === 'sell' && bids[0]) ticks = Math.max(ticks, bids[0][0] + 1);
      if (ticks < 1) return;
      await exchange.place(me, { symbol: DEMO_SYMBOL, side, type: 'limit', price: priceText(instrument, ticks), quantity: quantityText(instrument, this.between(1, 20)), postOnly: true });
    }
    this.counts.orders += 1;
    this.o.logger.debug({ bot: bot.account.handle, side }, 'demo bot: order');
    await this.trimOrders(bot);
  }

  /** Cancels the bot's oldest resting orders beyond the cap. */
  private async trimOrders(bot: Bot): Promise<void> {
    const exchange = this.node.exchange.service;
    const open = await exchange.myOrders(bot.principal, { status: 'open', symbol: DEMO_SYMBOL, limit: BOT_OPEN_ORDERS_MAX + 10 });
    // Newest first: everything after the cap is older.
    for (const order of open.slice(BOT_OPEN_ORDERS_MAX)) {
      if (this.stopped) return;
      try {
        await exchange.cancel(bot.principal, order.id);
        this.counts.cancels += 1;
      } catch (error) {
        if (!(error instanceof AppError)) throw error; // filled meanwhile: nothing to cancel
      }
    }
  }
}

export function describeTiming(t: BotTiming): string {
  const s = (p: Pause) => `${p.minMs / 1000}–${p.maxMs / 1000} s`;
  return `bidders every ${s(t.bidder)}, traders every ${s(t.trader)}`;
}
