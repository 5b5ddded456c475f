// The shop: fixed-price products on offer (GET /api/products, filtered by category, currency and
// stock, a page at a time), a product's page, and buying it: a quantity, the wallet it is paid
// from, and POST /api/purchases with an Idempotency-Key; the purchase page then follows the saga.
import { useState, type FormEvent } from 'react';
import { ErrorNotice, Field, Money } from '../components/Common.js';
import { PagedCards } from '../components/Paging.js';
import { wallets } from '../lib/account.js';
import { messageOf } from '../lib/api.js';
import { categories, flattenCategories, pathOf } from '../lib/catalog.js';
import { useCursorPages, useResource, useTitle } from '../lib/hooks.js';
import { newKey } from '../lib/ids.js';
import { compareAmounts, currencies, formatMoney, scaleOf } from '../lib/money.js';
import { hrefWithQuery, Link, navigate, useLocation } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { getProduct, lineTotal, listProducts, QUANTITY_MAX, startPurchase, type Product, type ProductFilters } from '../lib/shop.js';
import { useStore } from '../lib/store.js';

// --- the list ---------------------------------------------------------------------------------

export function ShopPage() {
  useTitle('Shop');
  const { search } = useLocation();
  const params = new URLSearchParams(search);
  const filters: ProductFilters = {
    categoryId: params.get('category') || undefined,
    currency: params.get('currency') || undefined,
    inStock: params.get('inStock') === '1' ? true : undefined,
  };
  const key = `${filters.categoryId ?? ''}|${filters.currency ?? ''}|${filters.inStock ?? ''}`;
  const { pages, load } = useCursorPages<Product>(key, (cursor, signal) => listProducts(filters, cursor, signal));
  const go = (changes: Record<string, string | null>) => navigate(hrefWithQuery('/shop', search, changes), { keepScroll: true });

  return (
    <div className="page stack">
      <div className="spread">
        <div>
          <h1 style={{ marginBottom: 0 }}>Shop</h1>
          <p className="muted" style={{ margin: 0 }}>
            Fixed prices, paid from your wallet. Every purchase either goes through whole or is undone whole.
          </p>
        </div>
        <Link to="/me/purchases">My purchases</Link>
      </div>
      <ShopFilters filters={filters} go={go} />
      <section aria-labelledby="products-heading">
        <h2 id="products-heading" className="visually-hidden">
          Products
        </h2>
        <PagedCards
          pages={pages}
          currentKey={key}
          load={load}
          noun="product"
          emptyTitle="No products match"
          empty={
            <>
              <p>Try another category or currency, or include items that are out of stock.</p>
              <Link className="btn" to="/shop">
                Clear filters
              </Link>
            </>
          }
          card={(p) => <ProductCard key={p.id} product={p} />}
        />
      </section>
    </div>
  );
}

function ShopFilters({ filters, go }: { filters: ProductFilters; go: (changes: Record<string, string | null>) => void }) {
  const { tree } = useStore(categories);
  const codes = [...useStore(currencies).values()];
  return (
    <form className="panel tight shop-filters" aria-label="Filter products" onSubmit={(e) => e.preventDefault()}>
      <div className="field">
        <label htmlFor="shop-category">Category</label>
        <select id="shop-category" value={filters.categoryId ?? ''} onChange={(e) => go({ category: e.target.value })}>
          <option value="">All categories</option>
          {flattenCategories(tree).map((c) => (
            <option key={c.id} value={c.id}>
              {`${'\u2003'.repeat(c.depth)}${c.name}`}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="shop-currency">Currency</label>
        <select id="shop-currency" value={filters.currency ?? ''} onChange={(e) => go({ currency: e.target.value })}>
          <option value="">Any currency</option>
          {codes.map((c) => (
            <option key={c.code} value={c.code}>
              {c.code} — {c.name}
            </option>
          ))}
        </select>
      </div>
      <label className="check">
        <input type="checkbox" checked={filters.inStock === true} onChange={(e) => go({ inStock: e.target.checked ? '1' : null })} />
        In stock only
      </label>
    </form>
  );
}

function Availability({ product }: { product: Product }) {
  if (product.archived) return <span className="badge">No longer sold</span>;
  if (product.available === 0) return <span className="badge danger">Out of stock</span>;
  return <span className={`badge ${product.available <= 5 ? 'warning' : 'success'}`}>{product.available <= 5 ? `Only ${product.available} left` : `${product.available} in stock`}</span>;
}

function ProductCard({ product }: { product: Product }) {
  const crumb = product.categoryPath.at(-1)?.name;
  return (
    <Link className="card product-card" to={`/shop/${product.id}`} data-testid="product-card">
      <div className="thumb">
        <div className="placeholder-art">{product.title.trim().charAt(0).toUpperCase()}</div>
      </div>
      <div className="body">
        {crumb && <span className="crumb">{crumb}</span>}
        <span className="title">{product.title}</span>
        <div className="price-row">
          <span className="price">{formatMoney(product.price, product.currency)}</span>
          <Availability product={product} />
        </div>
      </div>
    </Link>
  );
}

// --- one product, and buying it ----------------------------------------------------------------

export function ProductPage({ id }: { id: string }) {
  const product = useResource(id, (signal) => getProduct(id, signal));
  useTitle(product.data?.title ?? 'Product');
  if (product.error)
    return (
      <div className="page">
        <ErrorNotice error={product.error} retry={product.reload} />
        <Link to="/shop">Back to the shop</Link>
      </div>
    );
  if (!product.data)
    return (
      <div className="page" aria-busy="true">
        <div className="two-col">
          <div className="skeleton" style={{ height: 320 }} />
          <div className="skeleton" style={{ height: 320 }} />
        </div>
      </div>
    );
  const p = product.data;
  const path = p.categoryPath.length > 0 ? p.categoryPath : pathOf(p.categoryId);
  return (
    <div className="page">
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumbs">
          <li>
            <Link to="/shop">Shop</Link>
          </li>
          {path.map((c) => (
            <li key={c.id}>
              <Link to={`/shop?category=${c.id}`}>{c.name}</Link>
            </li>
          ))}
        </ol>
      </nav>
      {/* The buy panel comes first: on a phone it leads, on a wide screen it sits on the right. */}
      <div className="product-layout">
        <aside className="panel stack product-buy" aria-label="Buy">
          <h1 style={{ marginBottom: 0 }}>{p.title}</h1>
          <div className="spread">
            <Money className="product-price" amount={p.price} currency={p.currency} />
            <Availability product={p} />
          </div>
          <BuyForm product={p} onStale={product.reload} />
        </aside>
        <section className="panel stack product-about" aria-labelledby="product-about">
          <div className="product-art placeholder-art" aria-hidden="true">
            {p.title.trim().charAt(0).toUpperCase()}
          </div>
          <h2 id="product-about">About this item</h2>
          <p className="description">{p.description || 'The seller has not described it.'}</p>
        </section>
      </div>
    </div>
  );
}

function BuyForm({ product, onStale }: { product: Product; onStale: () => void }) {
  const session = useSession();
  const { items: myWallets, loaded } = useStore(wallets);
  const [quantityText, setQuantityText] = useState('1');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per request: the same quantity retried keeps it (the server answers the first
  // purchase); another quantity is another request and gets a new one.
  const [key, setKey] = useState(() => newKey('purchase'));
  const max = Math.min(product.available, QUANTITY_MAX);
  const scale = scaleOf(product.currency, product.price);
  const quantity = /^\d{1,5}$/.test(quantityText.trim()) ? Number(quantityText.trim()) : NaN;
  const quantityOk = Number.isInteger(quantity) && quantity >= 1 && quantity <= max;
  const total = quantityOk ? lineTotal(product.price, quantity, scale) : null;
  const wallet = myWallets.find((w) => w.currency === product.currency && !w.closed);
  const short = loaded && total !== null && (!wallet || compareAmounts(wallet.available, total, scale) < 0);

  if (session.status !== 'signed-in' || !session.user) {
    const next = encodeURIComponent(`/shop/${product.id}`);
    return (
      <div className="cluster">
        <Link className="btn primary" to={`/signin?next=${next}`}>
          Sign in to buy
        </Link>
        <Link className="btn" to={`/register?next=${next}`}>
          Create an account
        </Link>
      </div>
    );
  }
  if (product.sellerId === session.user.id) return <p className="notice">This is your product: buyers see the buy button here.</p>;
  if (product.archived) return <p className="notice warning">The seller no longer sells this item.</p>;
  if (product.available === 0) return <p className="notice warning">Out of stock for now: every unit is sold or reserved by a purchase under way.</p>;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!quantityOk) {
      setError(`Choose a whole number from 1 to ${max}.`);
      return;
    }
    setError(null);
    setBusy(true);
    startPurchase({ items: [{ productId: product.id, quantity }], currency: product.currency }, key).then(
      (purchase) => navigate(`/purchases/${purchase.id}`),
      (err: unknown) => {
        setBusy(false);
        setError(messageOf(err));
        onStale();
      },
    );
  };

  return (
    <form className="stack" onSubmit={submit} noValidate aria-label={`Buy ${product.title}`}>
      <Field id="buy-quantity" label="Quantity" hint={`1 to ${max}`} error={error ?? undefined}>
        <input
          id="buy-quantity"
          type="number"
          inputMode="numeric"
          min={1}
          max={max}
          step={1}
          value={quantityText}
          aria-invalid={error !== null}
          aria-describedby={`buy-quantity-hint${error ? ' buy-quantity-error' : ''}`}
          onChange={(e) => {
            setQuantityText(e.target.value);
            setError(null);
            setKey(newKey('purchase'));
          }}
        />
      </Field>
      <div className="field">
        <span className="label" id="buy-currency-label">
          Currency
        </span>
        <output id="buy-currency" aria-labelledby="buy-currency-label" data-testid="buy-currency">
          {product.currency}, from your {product.currency} wallet
          {wallet && (
            <>
              {' '}
              (<Money amount={wallet.available} currency={product.currency} /> available)
            </>
          )}
        </output>
        <span className="hint">A product is paid in the currency it is priced in.</span>
      </div>
      <div className="spread buy-total">
        <span>Total</span>
        <strong data-testid="buy-total">{total === null ? '—' : formatMoney(total, product.currency)}</strong>
      </div>
      {short && (
        <p className="notice warning" role="status">
          Your {product.currency} wallet {wallet ? `has ${formatMoney(wallet.available, product.currency)} available` : 'is not open yet'}: the payment step will be refused unless you{' '}
          <Link to={`/wallet/${product.currency}?topup=1`}>add funds</Link> first.
        </p>
      )}
      <button type="submit" className="btn primary large block" disabled={busy}>
        {busy ? 'Buying…' : 'Buy now'}
      </button>
      <p className="small muted" style={{ margin: 0 }}>
        Stock is reserved, the total held in your wallet, then your order created. If any step fails, the ones before it are undone.
      </p>
    </form>
  );
}
