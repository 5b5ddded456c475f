// The watch toggle: a star that adds an auction to the person's watchlist or takes it off. A
// toggle button (aria-pressed) whose label stays "Watch …" while the star fills; signed out,
// the page shows a link to sign in instead and cards show nothing.
import { useState } from 'react';
import { messageOf } from '../lib/api.js';
import { Link } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { toast } from '../lib/toasts.js';
import { setWatching, useWatching } from '../lib/watchlist.js';

function StarIcon({ filled }: { filled: boolean }) {
  return (
    <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill={filled ? 'currentColor' : 'none'} stroke="currentColor" strokeWidth={1.8} strokeLinejoin="round">
      <path d="M12 3.2l2.7 5.6 6.1.8-4.5 4.2 1.1 6.1L12 17l-5.4 2.9 1.1-6.1-4.5-4.2 6.1-.8z" />
    </svg>
  );
}

export function WatchStar({ auctionId, title, variant }: { auctionId: string; title: string; variant: 'card' | 'page' }) {
  const session = useSession();
  const watching = useWatching(auctionId);
  const [busy, setBusy] = useState(false);
  if (session.status !== 'signed-in') {
    if (variant === 'card') return null;
    const next = encodeURIComponent(window.location.pathname + window.location.search);
    return (
      <Link className="btn small watch-star" to={`/signin?next=${next}`}>
        <StarIcon filled={false} />
        Sign in to watch
      </Link>
    );
  }
  const toggle = () => {
    if (busy) return;
    setBusy(true);
    setWatching(auctionId, !watching)
      .then(
        () => {
          if (variant !== 'page') return;
          if (watching) toast({ tone: 'info', title: 'Removed from your watchlist' });
          else toast({ tone: 'info', title: 'Added to your watchlist', body: 'Find it in My Gavel, under Watchlist.', href: '/me/watchlist' });
        },
        (error: unknown) => toast({ tone: 'danger', title: 'The watchlist did not change', body: messageOf(error) }),
      )
      .finally(() => setBusy(false));
  };
  return (
    <button
      type="button"
      className={`watch-star ${variant === 'card' ? 'on-card' : 'btn small'} ${watching ? 'watching' : ''}`}
      aria-pressed={watching}
      aria-label={variant === 'card' ? `Watch ${title}` : undefined}
      title={watching ? 'On your watchlist: press to remove it' : 'Add to your watchlist'}
      aria-busy={busy}
      onClick={toggle}
      data-testid="watch-star"
    >
      <StarIcon filled={watching} />
      {variant === 'page' && 'Watch'}
    </button>
  );
}
