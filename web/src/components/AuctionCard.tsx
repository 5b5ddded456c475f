import { useEffect, useState } from 'react';
import { coverOf, type AuctionRow } from '../lib/auctions.js';
import { useServerNow } from '../lib/clock.js';
import { formatDuration, formatDateTime } from '../lib/format.js';
import { formatMoney } from '../lib/money.js';
import { Link } from '../lib/router.js';
import { WatchStar } from './WatchStar.js';

export function AuctionCard({ auction }: { auction: AuctionRow }) {
  const now = useServerNow();
  const cover = useCover(auction.lotId);
  const crumb = auction.categoryPath?.at(-1)?.name;
  return (
    // The star sits beside the link, not inside it: a button within a link is neither valid nor reachable by keyboard.
    <div className="auction-card-wrap">
      <Link className="card auction-card" to={`/auctions/${auction.id}`} data-testid="auction-card">
        <div className="thumb">
          {cover ? <img src={cover} alt="" loading="lazy" decoding="async" /> : <div className="placeholder-art">{auction.title.trim().charAt(0).toUpperCase()}</div>}
          <StatusBadge auction={auction} />
        </div>
        <div className="body">
          {crumb && <span className="crumb">{crumb}</span>}
          <span className="title">{auction.title}</span>
          <div className="price-row">
            <span className="price">{formatMoney(auction.bidCount > 0 ? auction.currentPrice : auction.startingPrice, auction.currency)}</span>
            <span className="small muted">{auction.bidCount === 0 ? 'starting bid' : `${auction.bidCount} bid${auction.bidCount === 1 ? '' : 's'}`}</span>
          </div>
          <When auction={auction} now={now} />
        </div>
      </Link>
      <WatchStar auctionId={auction.id} title={auction.title} variant="card" />
    </div>
  );
}

function When({ auction, now }: { auction: AuctionRow; now: number }) {
  if (auction.status === 'closed') return <span className="when">{auction.outcome === 'sold' ? 'Sold' : 'Ended'} {formatDateTime(auction.closedAt)}</span>;
  if (auction.status === 'cancelled') return <span className="when">Cancelled</span>;
  const starts = Date.parse(auction.startsAt);
  if (auction.status === 'scheduled' || now < starts) return <span className="when">Starts {formatDateTime(auction.startsAt)}</span>;
  if (auction.kind === 'live') return <span className="when soon">Live now</span>;
  if (!auction.endsAt) return null;
  const left = Date.parse(auction.endsAt) - now;
  return <span className={`when ${left < 3_600_000 ? 'soon' : ''}`}>{left > 0 ? `Ends in ${formatDuration(left)}` : 'Closing…'}</span>;
}

export function StatusBadge({ auction }: { auction: Pick<AuctionRow, 'status' | 'kind' | 'outcome'> }) {
  if (auction.status === 'open') return auction.kind === 'live' ? <span className="badge live">Live</span> : <span className="badge open">Open</span>;
  if (auction.status === 'scheduled') return <span className="badge info">Upcoming</span>;
  if (auction.status === 'cancelled') return <span className="badge danger">Cancelled</span>;
  return <span className="badge">{auction.outcome === 'sold' ? 'Sold' : 'Ended'}</span>;
}

function useCover(lotId: string): string | null {
  const [cover, setCover] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    void coverOf(lotId).then((url) => live && setCover(url));
    return () => {
      live = false;
    };
  }, [lotId]);
  return cover;
}
