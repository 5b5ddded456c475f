// Routing a market's operations to its owner: locally in one process, over NATS request/reply
// between processes (a real server), refusals crossing intact, no owner → 503, and ownership
// moving with the lease when an engine dies.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import { MarketRouter } from '../../src/cluster/market-router.js';
import { JetStreamLeases } from '../../src/cluster/leases.js';
import { LeaseKeeper } from '../../src/cluster/lease-keeper.js';
import { AppError } from '../../src/platform/errors.js';
import { systemClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logging.js';
import { NATS_AVAILABLE, connectNats, scratchBucket } from '../support/nats.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const silent = createLogger('silent');
const cleanups = cleanupsAfterEach();

/** A router whose `bid` handler says which engine ran it and refuses amounts below 10. */
function engine(name: string, nats: ConstructorParameters<typeof MarketRouter>[0]['nats'], subjectPrefix: string) {
  const router = new MarketRouter({ nats, logger: silent, subjectPrefix, timeoutMs: 2_000 });
  const ran: string[] = [];
  router.register('bid', async (market, args) => {
    const { amount } = args as { amount: string };
    if (Number(amount) < 10) throw new AppError('BID_TOO_LOW', `the next bid on ${market} is at least 10.00`, { errors: [{ in: 'body', field: 'amount', message: 'at least 10.00' }] });
    ran.push(`${market}:${amount}`);
    return { acceptedBy: name, market, amount };
  });
  router.register('explode', async () => {
    throw new Error('database on fire at /secret/path');
  });
  cleanups.push(() => router.close());
  return { router, ran };
}

describe('the market router in one process', () => {
  it('runs every operation here, refusals included', async () => {
    const { router, ran } = engine('solo', null, 'unused');
    expect(await router.call('auction.1', 'bid', { amount: '12.00' })).toEqual({ acceptedBy: 'solo', market: 'auction.1', amount: '12.00' });
    await expect(router.call('auction.1', 'bid', { amount: '5.00' })).rejects.toMatchObject({ code: 'BID_TOO_LOW' });
    expect(ran).toEqual(['auction.1:12.00']);
  });
});

describe.skipIf(!NATS_AVAILABLE)('the market router over NATS', () => {
  const prefix = () => `gavel_test_${randomBytes(4).toString('hex')}.market`;

  async function pair() {
    const subjectPrefix = prefix();
    const [ncA, ncB] = [await connectNats(), await connectNats()];
    cleanups.push(() => ncA.close(), () => ncB.close());
    return { a: engine('a', ncA, subjectPrefix), b: engine('b', ncB, subjectPrefix), ncA };
  }

  it("a call on a node that does not own the market runs on the owner and answers the owner's result", async () => {
    const { a, b } = await pair();
    a.router.own('auction.1');
    await sleep(50); // the subscription reaches the server
    expect(await b.router.call('auction.1', 'bid', { amount: '11.00' })).toEqual({ acceptedBy: 'a', market: 'auction.1', amount: '11.00' });
    expect(a.ran).toEqual(['auction.1:11.00']);
    expect(b.ran).toEqual([]);
  });

  it('a refusal crosses intact: the same code, detail and fields as on the owner; other failures become INTERNAL without their details', async () => {
    const { a, b } = await pair();
    a.router.own('auction.1');
    await sleep(50);
    const refused = await b.router.call('auction.1', 'bid', { amount: '5.00' }).catch((e) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'BID_TOO_LOW', message: 'the next bid on auction.1 is at least 10.00', errors: [{ in: 'body', field: 'amount', message: 'at least 10.00' }] });
    const exploded = await b.router.call('auction.1', 'explode', {}).catch((e) => e);
    expect(exploded).toMatchObject({ code: 'INTERNAL', message: 'something went wrong on our side' });
  });

  it('with no owner, a call is NOT_READY at once; after the owner gives the market up, calls go to the new owner', async () => {
    const { a, b } = await pair();
    await expect(b.router.call('auction.9', 'bid', { amount: '20.00' })).rejects.toMatchObject({ code: 'NOT_READY' });
    a.router.own('auction.9');
    await sleep(50);
    expect(await b.router.call('auction.9', 'bid', { amount: '20.00' })).toMatchObject({ acceptedBy: 'a' });
    a.router.disown('auction.9');
    b.router.own('auction.9');
    await sleep(50);
    expect(await a.router.call('auction.9', 'bid', { amount: '21.00' })).toMatchObject({ acceptedBy: 'b' });
    expect(await b.router.call('auction.9', 'bid', { amount: '22.00' })).toMatchObject({ acceptedBy: 'b' });
  });

  it('with leases: when the owning engine dies, calls fail with NOT_READY only until the other engine holds the lease, then succeed there', async () => {
    const subjectPrefix = prefix();
    const admin = await connectNats();
    cleanups.push(() => admin.close());
    const bucket = await scratchBucket(admin, 1_000);
    cleanups.push(() => bucket.drop());
    const ncA = await connectNats();
    const ncB = await connectNats();
    cleanups.push(() => ncB.close());
    const a = engine('a', ncA, subjectPrefix);
    const b = engine('b', ncB, subjectPrefix);
    const keeperOf = async (name: string, router: MarketRouter, nc: typeof ncA) =>
      new LeaseKeeper({ store: await JetStreamLeases.open(await new Kvm(nc).open(bucket.name), 1_000), holder: name, clock: systemClock, logger: silent, tickMs: 100, onAcquired: (key) => router.own(key), onLost: (key) => router.disown(key) });
    const keeperA = await keeperOf('a', a.router, ncA);
    keeperA.want(['auction.7']);
    await keeperA.tick();
    const keeperB = await keeperOf('b', b.router, ncB);
    cleanups.push(() => keeperB.stop());
    keeperB.want(['auction.7']);
    keeperB.start();
    await sleep(50);
    expect(await b.router.call('auction.7', 'bid', { amount: '10.00' })).toMatchObject({ acceptedBy: 'a' });

    await ncA.close(); // engine A dies: no release, no more answers
    const outcomes: string[] = [];
    const deadline = performance.now() + 15_000;
    for (let amount = 11; performance.now() < deadline; amount++) {
      const result = await b.router.call<{ acceptedBy: string }>('auction.7', 'bid', { amount: `${amount}.00` }).then((r) => r.acceptedBy, (e: AppError) => e.code);
      outcomes.push(result);
      if (result === 'b') break;
      await sleep(50);
    }
    expect(outcomes.at(-1)).toBe('b');
    expect(new Set(outcomes.slice(0, -1))).toEqual(new Set(outcomes.length > 1 ? ['NOT_READY'] : []));
  });
});
