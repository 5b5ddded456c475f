// The app: shell (header, main, footer, toasts) and the routes.
import { useEffect, useRef } from 'react';
import { Header } from './components/Header.js';
import { Toasts } from './components/Toasts.js';
import { ActivityPage } from './pages/Activity.js';
import { AuctionPage } from './pages/Auction.js';
import { RegisterPage, SignInPage } from './pages/Auth.js';
import { HomePage, SearchPage } from './pages/Browse.js';
import { NotificationsPage } from './pages/Notifications.js';
import { TradePage } from './pages/Trade.js';
import { WalletPage } from './pages/Wallet.js';
import { Link, match, useLocation } from './lib/router.js';
import { useTitle } from './lib/hooks.js';

const CURRENCY = /^[A-Z0-9]{2,12}$/;

function route(path: string) {
  if (path === '/') return <HomePage />;
  if (path === '/auctions' || path === '/auctions/') return <SearchPage />;
  let p = match('/auctions/:id', path);
  if (p) return <AuctionPage id={p.id!} />;
  if (path === '/signin') return <SignInPage />;
  if (path === '/register') return <RegisterPage />;
  if (path === '/wallet') return <WalletPage />;
  p = match('/wallet/:currency', path);
  if (p && CURRENCY.test(p.currency!)) return <WalletPage currency={p.currency!} />;
  if (path === '/me' || path === '/me/bids') return <ActivityPage tab="bids" />;
  if (path === '/me/wins') return <ActivityPage tab="wins" />;
  if (path === '/me/orders') return <ActivityPage tab="orders" />;
  if (path === '/notifications') return <NotificationsPage />;
  if (path === '/trade') return <TradePage />;
  p = match('/trade/:symbol', path);
  if (p) return <TradePage symbol={p.symbol!} />;
  return <NotFound />;
}

function NotFound() {
  useTitle('Not found');
  return (
    <div className="page">
      <div className="empty">
        <h1>We could not find that page</h1>
        <p>It may have moved, or the link may be mistyped.</p>
        <Link className="btn primary" to="/">
          Go to the front page
        </Link>
      </div>
    </div>
  );
}

export function App() {
  const { path } = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // After a client-side navigation, focus moves to the new page (screen readers announce it).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus({ preventScroll: true });
  }, [path]);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" ref={main} tabIndex={-1} style={{ outline: 'none' }}>
        {route(path)}
      </main>
      <footer className="site-footer">
        <div className="inner">
          <span>Gavel — auctions, wallets and an exchange.</span>
          <span>
            <a href="/docs">API reference</a>
          </span>
        </div>
      </footer>
      <Toasts />
    </>
  );
}
