// The header on every page: brand, categories, search, and for a signed-in person the wallet
// balance, the notifications bell and the account menu. On a phone the search takes its own
// row and the navigation folds behind a menu button.
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { preferredCurrency, unread, wallets, type Wallet } from '../lib/account.js';
import { isAdmin } from '../lib/admin.js';
import { categories } from '../lib/catalog.js';
import { currencies, formatMoney, type Currency } from '../lib/money.js';
import { realtime } from '../lib/realtime.js';
import { maySell } from '../lib/sell.js';
import { Link, navigate, useLocation } from '../lib/router.js';
import { signOut, useSession } from '../lib/session.js';
import { useStore } from '../lib/store.js';
import { BellIcon, GavelMark, MenuIcon, UserIcon } from './Icons.js';

export function Header() {
  const { path, search } = useLocation();
  const session = useSession();
  const [navOpen, setNavOpen] = useState(false);
  useEffect(() => setNavOpen(false), [path, search]);
  const q = path === '/auctions' ? (new URLSearchParams(search).get('q') ?? '') : '';

  return (
    <header className="site-header">
      <div className="bar">
        <Link className="brand" to="/" aria-label="Gavel, home">
          <GavelMark />
          <span>Gavel</span>
        </Link>
        <nav className={`header-nav ${navOpen ? 'open' : ''}`} aria-label="Main" id="main-nav">
          <CategoriesMenu />
          <Link to="/auctions" aria-current={path === '/auctions' ? 'page' : undefined}>
            Auctions
          </Link>
          <Link to="/trade" aria-current={path.startsWith('/trade') ? 'page' : undefined}>
            Trade
          </Link>
          <Link to="/shop" aria-current={path.startsWith('/shop') ? 'page' : undefined}>
            Shop
          </Link>
          {maySell(session.user) && (
            <Link to="/sell" aria-current={path.startsWith('/sell') ? 'page' : undefined}>
              Sell
            </Link>
          )}
          {session.user && (session.user.roles.includes('auctioneer') || session.user.roles.includes('admin')) && (
            <Link to="/console" aria-current={path.startsWith('/console') ? 'page' : undefined}>
              Console
            </Link>
          )}
          {isAdmin(session.user) && (
            <Link to="/admin" aria-current={path.startsWith('/admin') ? 'page' : undefined}>
              Admin
            </Link>
          )}
        </nav>
        <SearchForm key={q} initial={q} />
        <div className="header-actions">
          <ConnectionStatus />
          {session.status === 'signed-in' && session.user ? (
            <>
              <WalletChip />
              <Bell />
              <AccountMenu name={session.user.name} />
            </>
          ) : session.status === 'anonymous' ? (
            <>
              <Link className="plain" to={`/signin?next=${encodeURIComponent(path + search)}`}>
                Sign in
              </Link>
              <Link className="btn small primary" to="/register">
                Register
              </Link>
            </>
          ) : null}
          <button type="button" className="icon-button menu-toggle" aria-label="Menu" aria-expanded={navOpen} aria-controls="main-nav" onClick={() => setNavOpen((o) => !o)}>
            <MenuIcon />
          </button>
        </div>
      </div>
    </header>
  );
}

function SearchForm({ initial }: { initial: string }) {
  const [text, setText] = useState(initial);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const params = new URLSearchParams(window.location.pathname === '/auctions' ? window.location.search : '');
    params.delete('cursor');
    if (text.trim()) params.set('q', text.trim());
    else params.delete('q');
    navigate(`/auctions?${params.toString()}`);
  };
  return (
    <form className="search" role="search" onSubmit={submit}>
      <label htmlFor="site-search" className="visually-hidden">
        Search auctions
      </label>
      <input id="site-search" type="search" name="q" placeholder="Search auctions" value={text} onChange={(e) => setText(e.target.value)} maxLength={200} autoComplete="off" />
      <button type="submit">Search</button>
    </form>
  );
}

function ConnectionStatus() {
  const status = useStore(realtime.status);
  const text = status === 'live' ? 'Live' : status === 'connecting' ? 'Connecting' : 'Reconnecting…';
  return (
    <span className={`connection ${status}`} role="status" title={status === 'live' ? 'Live updates are on' : 'Live updates are reconnecting'}>
      <span>{text}</span>
    </span>
  );
}

/**
 * The wallet to show in the header: the currency last looked at (a wallet page, an auction's
 * currency), else a funded currency wallet (USD first), else a funded asset.
 */
function headlineWallet(items: Wallet[], known: Map<string, Currency>, preferred: string | null): Wallet | undefined {
  const open = items.filter((w) => !w.closed);
  const chosen = open.find((w) => w.currency === preferred);
  if (chosen) return chosen;
  const funded = open.filter((w) => !/^0(\.0+)?$/.test(w.available));
  const fiat = (w: Wallet) => known.get(w.currency)?.kind === 'fiat';
  return funded.find((w) => w.currency === 'USD') ?? funded.find(fiat) ?? funded[0] ?? open.find(fiat) ?? open[0];
}

function WalletChip() {
  const { items, loaded } = useStore(wallets);
  const w = headlineWallet(items, useStore(currencies), useStore(preferredCurrency));
  if (!loaded) return null;
  if (!w)
    return (
      <Link className="wallet-chip" to="/wallet">
        <small>Wallet</small>
        <span>Add funds</span>
      </Link>
    );
  const amount = formatMoney(w.available, w.currency);
  return (
    <Link className="wallet-chip" to={`/wallet/${w.currency}`} aria-label={`Wallet: ${amount} ${w.currency} available`} data-testid="wallet-balance">
      <small>Available</small>
      <span>{amount}</span>
    </Link>
  );
}

function Bell() {
  const count = useStore(unread);
  return (
    <Link className="icon-button" to="/notifications" aria-label={count > 0 ? `Notifications, ${count} unread` : 'Notifications'}>
      <BellIcon />
      {count > 0 && (
        <span className="count" aria-hidden="true">
          {count > 99 ? '99+' : count}
        </span>
      )}
    </Link>
  );
}

function AccountMenu({ name }: { name: string }) {
  return (
    <Menu label={`Account: ${name}`} button={<UserIcon />} buttonClass="icon-button" id="account-menu">
      <div className="menu-heading">Signed in as {name}</div>
      <Link to="/me/bids">My bids</Link>
      <Link to="/me/wins">Wins</Link>
      <Link to="/me/orders">Orders</Link>
      <Link to="/me/watchlist">Watchlist</Link>
      <Link to="/me/purchases">Purchases</Link>
      <Link to="/wallet">Wallet</Link>
      <Link to="/trade">Trading</Link>
      <Link to="/notifications">Notifications</Link>
      <button
        type="button"
        onClick={() => {
          void signOut().then(() => navigate('/'));
        }}
      >
        Sign out
      </button>
    </Menu>
  );
}

function CategoriesMenu() {
  const { tree } = useStore(categories);
  return (
    <Menu label="Categories" button="Categories" buttonClass="navlink" id="categories-menu" wide>
      <Link to="/auctions">All auctions</Link>
      {tree.map((c) => (
        <div key={c.id}>
          <Link to={`/auctions?category=${c.id}`}>{c.name}</Link>
          {c.children.map((child) => (
            <Link key={child.id} className="sub" to={`/auctions?category=${child.id}`}>
              {child.name}
            </Link>
          ))}
        </div>
      ))}
      {tree.length === 0 && <div className="menu-heading">No categories yet</div>}
    </Menu>
  );
}

/** A disclosure menu: Escape or a click elsewhere closes it, choosing an entry closes it. */
function Menu({ label, button, buttonClass, id, wide, children }: { label: string; button: ReactNode; buttonClass: string; id: string; wide?: boolean; children: ReactNode }) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  const { path, search } = useLocation();
  useEffect(() => setOpen(false), [path, search]);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: PointerEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setOpen(false);
        toggle.current?.focus();
      }
    };
    document.addEventListener('pointerdown', onDown);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('pointerdown', onDown);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);
  return (
    <div className="menu" ref={root}>
      <button ref={toggle} type="button" className={buttonClass} aria-expanded={open} aria-controls={id} aria-label={typeof button === 'string' ? undefined : label} onClick={() => setOpen((o) => !o)}>
        {button}
      </button>
      <div className={`menu-panel ${wide ? 'wide' : ''}`} id={id} hidden={!open} onClick={(e) => (e.target as HTMLElement).closest('a,button') && setOpen(false)}>
        {children}
      </div>
    </div>
  );
}
