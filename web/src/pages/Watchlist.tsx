// "My Gavel → Watchlist": the auctions the person watches, the latest watched first, as cards
// with their stars (unstarring one leaves it on screen until the next visit, so a slip is
// easy to undo).
import { AuctionCard } from '../components/AuctionCard.js';
import { Empty, ErrorNotice, SkeletonCards } from '../components/Common.js';
import { MorePages } from '../components/Paging.js';
import { useCursorPages } from '../lib/hooks.js';
import { Link } from '../lib/router.js';
import { watchlistPage, type WatchedAuction } from '../lib/watchlist.js';

export function MyWatchlist() {
  const { pages: state, load } = useCursorPages<WatchedAuction>('watchlist', watchlistPage);
  if (state.error !== undefined && state.items.length === 0) return <ErrorNotice error={state.error} retry={() => load(null)} />;
  if (state.loading && state.items.length === 0) return <SkeletonCards count={4} />;
  if (state.items.length === 0)
    return (
      <Empty title="Nothing on your watchlist">
        <p>Press the star on an auction to follow it here. We tell you shortly before a watched auction starts.</p>
        <Link className="btn primary" to="/auctions">
          Find auctions
        </Link>
      </Empty>
    );
  return (
    <section className="stack" aria-label="Watched auctions">
      <p className="muted small" role="status">
        {state.items.length}
        {state.cursor ? '+' : ''} watched auction{state.items.length === 1 ? '' : 's'}, the latest watched first
      </p>
      <div className="grid-cards" data-testid="watchlist">
        {state.items.map((a) => (
          <AuctionCard key={a.id} auction={a} />
        ))}
      </div>
      <MorePages pages={state} load={load} />
    </section>
  );
}
