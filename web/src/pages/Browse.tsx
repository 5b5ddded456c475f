// The front page (ending soon, just listed, live sales, categories) and the search page with
// filters, sorts and the category tree, both on GET /api/auctions.
import { useEffect, useState, type FormEvent } from 'react';
import { AuctionCard } from '../components/AuctionCard.js';
import { CategoryTree } from '../components/CategoryTree.js';
import { ErrorNotice, SkeletonCards } from '../components/Common.js';
import { PagedCards } from '../components/Paging.js';
import { api } from '../lib/api.js';
import type { AuctionList, AuctionRow } from '../lib/auctions.js';
import { categories, pathOf } from '../lib/catalog.js';
import { useCursorPages, useResource, useTitle } from '../lib/hooks.js';
import { currencies } from '../lib/money.js';
import { hrefWithQuery, Link, navigate, useLocation } from '../lib/router.js';
import { useStore } from '../lib/store.js';

export function HomePage() {
  useTitle(null);
  const { tree } = useStore(categories);
  return (
    <>
      <section className="hero">
        <div className="inner">
          <h1>Bid live. Win with confidence.</h1>
          <p>Timed auctions with soft close, live sales run by an auctioneer, wallets in every currency you hold, and an exchange for the rest.</p>
          <div className="cluster">
            <Link className="btn primary large" to="/auctions">
              Browse auctions
            </Link>
            <Link className="btn large" to="/trade">
              Open the exchange
            </Link>
          </div>
        </div>
      </section>
      <div className="page">
        <Section title="Ending soon" query={{ sort: 'ending_soonest', status: 'open', kind: 'timed' }} more="/auctions?sort=ending_soonest&status=open" />
        <Section title="Live sales" query={{ kind: 'live', status: 'open,scheduled' }} more="/auctions?kind=live" hideWhenEmpty />
        <Section title="Just listed" query={{ sort: 'newest' }} more="/auctions?sort=newest" hideWhenEmpty />
        {tree.length > 0 && (
          <>
            <div className="section-head">
              <h2>Categories</h2>
            </div>
            <div className="category-tiles">
              {tree.map((c) => (
                <Link key={c.id} to={`/auctions?category=${c.id}`}>
                  {c.name}
                  {c.children.length > 0 && <small>{c.children.map((k) => k.name).join(' · ')}</small>}
                </Link>
              ))}
            </div>
          </>
        )}
      </div>
    </>
  );
}

function Section({ title, query, more, hideWhenEmpty }: { title: string; query: Record<string, string>; more: string; hideWhenEmpty?: boolean }) {
  const key = JSON.stringify(query);
  const list = useResource(key, (signal) => api<AuctionList>('GET', '/api/auctions', { query: { ...query, status: query.status?.split(','), limit: 8 }, signal }));
  if (hideWhenEmpty && list.data && list.data.items.length === 0) return null;
  return (
    <section aria-labelledby={`h-${title}`}>
      <div className="section-head">
        <h2 id={`h-${title}`}>{title}</h2>
        <Link to={more}>See all</Link>
      </div>
      {list.error ? (
        <ErrorNotice error={list.error} retry={list.reload} />
      ) : !list.data ? (
        <SkeletonCards count={4} />
      ) : list.data.items.length === 0 ? (
        <p className="muted">Nothing here right now.</p>
      ) : (
        <div className="grid-cards">
          {list.data.items.map((a) => (
            <AuctionCard key={a.id} auction={a} />
          ))}
        </div>
      )}
    </section>
  );
}

const SORTS: Array<[string, string]> = [
  ['ending_soonest', 'Ending soonest'],
  ['newest', 'Newly listed'],
  ['most_bids', 'Most bids'],
];
const STATUSES: Array<[string, string]> = [
  ['', 'Open and upcoming'],
  ['open', 'Open now'],
  ['scheduled', 'Upcoming'],
  ['closed', 'Ended'],
];
const FILTER_KEYS = ['q', 'category', 'status', 'kind', 'currency', 'minPrice', 'maxPrice', 'sort'] as const;

export function SearchPage() {
  const { search } = useLocation();
  const params = new URLSearchParams(search);
  const filters = Object.fromEntries(FILTER_KEYS.map((k) => [k, params.get(k) ?? ''])) as Record<(typeof FILTER_KEYS)[number], string>;
  const { tree } = useStore(categories);
  const categoryName = filters.category ? pathOf(filters.category).at(-1)?.name : undefined;
  const heading = filters.q ? `Results for “${filters.q}”` : (categoryName ?? 'All auctions');
  useTitle(heading);

  const key = FILTER_KEYS.map((k) => filters[k]).join('|');

  const { pages, load } = useCursorPages<AuctionRow>(key, (cursor, signal) => {
    const query = {
      q: filters.q,
      category: filters.category,
      status: filters.status ? filters.status.split(',') : undefined,
      kind: filters.kind,
      currency: filters.currency,
      minPrice: filters.currency ? filters.minPrice : undefined,
      maxPrice: filters.currency ? filters.maxPrice : undefined,
      sort: filters.sort,
      limit: 24,
      cursor: cursor ?? undefined,
    };
    return api<AuctionList>('GET', '/api/auctions', { query, ...(signal && { signal }) });
  });
  const hrefWith = (changes: Record<string, string | null>) => hrefWithQuery('/auctions', search, changes);

  return (
    <div className="page">
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumbs">
          <li>
            <Link to="/">Home</Link>
          </li>
          <li>
            <Link to="/auctions">Auctions</Link>
          </li>
          {pathOf(filters.category).map((c) => (
            <li key={c.id}>
              <Link to={hrefWith({ category: c.id })}>{c.name}</Link>
            </li>
          ))}
        </ol>
      </nav>
      <div className="sidebar-layout">
        <aside className="stack" aria-label="Filters">
          <Filters filters={filters} hrefWith={hrefWith} />
          <div className="panel tight">
            <h2 className="h3">Categories</h2>
            <CategoryTree tree={tree} current={filters.category || null} hrefOf={(id) => hrefWith({ category: id })} />
          </div>
        </aside>
        <section aria-labelledby="results-heading">
          <div className="spread">
            <h1 id="results-heading">{heading}</h1>
            <SortSelect value={filters.sort} onChange={(sort) => navigate(hrefWith({ sort }), { keepScroll: true })} />
          </div>
          <PagedCards
            pages={pages}
            currentKey={key}
            load={load}
            noun="auction"
            emptyTitle="No auctions match"
            empty={
              <>
                <p>Try fewer words, another category, or ended auctions.</p>
                <Link className="btn" to="/auctions">
                  Clear filters
                </Link>
              </>
            }
            card={(a) => <AuctionCard key={a.id} auction={a} />}
          />
        </section>
      </div>
    </div>
  );
}

function SortSelect({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  return (
    <div className="cluster">
      <label htmlFor="sort" className="label">
        Sort by
      </label>
      <select id="sort" value={value || 'ending_soonest'} onChange={(e) => onChange(e.target.value)} style={{ width: 'auto' }}>
        {SORTS.map(([v, label]) => (
          <option key={v} value={v}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
}

function Filters({ filters, hrefWith }: { filters: Record<string, string>; hrefWith: (c: Record<string, string | null>) => string }) {
  const codes = [...useStore(currencies).values()].filter((c) => c.kind === 'fiat' || c.kind === undefined);
  const [min, setMin] = useState(filters.minPrice ?? '');
  const [max, setMax] = useState(filters.maxPrice ?? '');
  useEffect(() => {
    setMin(filters.minPrice ?? '');
    setMax(filters.maxPrice ?? '');
  }, [filters.minPrice, filters.maxPrice]);
  const go = (changes: Record<string, string | null>) => navigate(hrefWith({ ...changes, cursor: null }), { keepScroll: true });
  const applyPrice = (e: FormEvent) => {
    e.preventDefault();
    go({ minPrice: min.trim() || null, maxPrice: max.trim() || null });
  };
  return (
    <form className="panel tight filters" onSubmit={applyPrice} aria-label="Filter auctions">
      <h2 className="h3">Filter</h2>
      <div className="field">
        <label htmlFor="f-status">Status</label>
        <select id="f-status" value={filters.status} onChange={(e) => go({ status: e.target.value })}>
          {STATUSES.map(([v, label]) => (
            <option key={v} value={v}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <fieldset>
        <legend>Kind of sale</legend>
        <div className="segmented">
          {[
            ['', 'All'],
            ['timed', 'Timed'],
            ['live', 'Live'],
          ].map(([v, label]) => (
            <label key={v}>
              <input type="radio" name="kind" value={v} checked={filters.kind === v} onChange={() => go({ kind: v! })} />
              <span>{label}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <div className="field">
        <label htmlFor="f-currency">Currency</label>
        <select id="f-currency" value={filters.currency} onChange={(e) => go({ currency: e.target.value, ...(e.target.value === '' && { minPrice: null, maxPrice: null }) })}>
          <option value="">Any currency</option>
          {codes.map((c) => (
            <option key={c.code} value={c.code}>
              {c.code} — {c.name}
            </option>
          ))}
        </select>
      </div>
      <fieldset disabled={!filters.currency}>
        <legend>Current price{filters.currency ? ` (${filters.currency})` : ''}</legend>
        <div className="row2">
          <div className="field">
            <label htmlFor="f-min" className="visually-hidden">
              Minimum price
            </label>
            <input id="f-min" inputMode="decimal" placeholder="Min" value={min} onChange={(e) => setMin(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="f-max" className="visually-hidden">
              Maximum price
            </label>
            <input id="f-max" inputMode="decimal" placeholder="Max" value={max} onChange={(e) => setMax(e.target.value)} />
          </div>
        </div>
        {!filters.currency && <p className="small muted">Choose a currency to filter by price.</p>}
        {filters.currency && (
          <button type="submit" className="btn small" style={{ marginTop: 8 }}>
            Apply price
          </button>
        )}
      </fieldset>
    </form>
  );
}
