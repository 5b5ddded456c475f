import { Link } from '../lib/router.js';
import { useStore } from '../lib/store.js';
import { dismiss, toasts } from '../lib/toasts.js';

export function Toasts() {
  const list = useStore(toasts);
  return (
    <div className="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} className={`toast ${t.tone}`}>
          <div>
            <strong>{t.href ? <Link to={t.href}>{t.title}</Link> : t.title}</strong>
            {t.body && <div className="small">{t.body}</div>}
          </div>
          <button type="button" className="close" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
