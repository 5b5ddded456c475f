// The app: shell (header, main, footer, toasts) and the routes.
import { useEffect, useRef } from 'react';
import { Header } from './components/Header.js';
import { Toasts } from './components/Toasts.js';
import { ActivityPage } from './pages/Activity.js';
import { AdminPage, adminSectionOf } from './pages/Admin.js';
import { AuctionPage } from './pages/Auction.js';
import { ConsolePage } from './pages/Console.js';
import { RegisterPage, SignInPage } from './pages/Auth.js';
import { HomePage, SearchPage } from './pages/Browse.js';
import { NotificationsPage } from './pages/Notifications.js';
import { PurchasePage } from './pages/Purchase.js';
import { ProductPage, ShopPage } from './pages/Shop.js';
import { SellPage } from './pages/Sell.js';
import { NewAuctionPage } from './pages/SellAuction.js';
import { LotPage } from './pages/SellLot.js';
import { AuctionResultsPage, PeriodStatsPage } from './pages/SellStats.js';
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
  if (path === '/me/watchlist') return <ActivityPage tab="watchlist" />;
  if (path === '/me/purchases') return <ActivityPage tab="purchases" />;
  if (path === '/shop' || path === '/shop/') return <ShopPage />;
  p = match('/shop/:productId', path);
  if (p) return <ProductPage id={p.productId!} />;
  p = match('/purchases/:id', path);
  if (p) return <PurchasePage id={p.id!} />;
  if (path === '/notifications') return <NotificationsPage />;
  if (path === '/trade') return <TradePage />;
  p = match('/trade/:symbol', path);
  if (p) return <TradePage symbol={p.symbol!} />;
  if (path === '/console' || path === '/console/') return <ConsolePage />;
  p = match('/console/:id', path);
  if (p) return <ConsolePage id={p.id!} />;
  if (path === '/sell' || path === '/sell/') return <SellPage />;
  if (path === '/sell/stats') return <PeriodStatsPage />;
  if (path === '/sell/lots/new') return <LotPage />;
  p = match('/sell/lots/:id/auction', path);
  if (p) return <NewAuctionPage lotId={p.id!} />;
  p = match('/sell/lots/:id', path);
  if (p) return <LotPage id={p.id!} />;
  p = match('/sell/auctions/:id', path);
  if (p) return <AuctionResultsPage id={p.id!} />;
  const adminSection = path === '/admin' || path.startsWith('/admin/') ? adminSectionOf(path) : null;
  if (adminSection) return <AdminPage section={adminSection} />;
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
