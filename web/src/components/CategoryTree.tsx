import type { Category } from '../lib/catalog.js';
import { Link } from '../lib/router.js';

/** The category tree as nested links; the current category is marked. */
export function CategoryTree({ tree, current, hrefOf }: { tree: Category[]; current: string | null; hrefOf: (id: string | null) => string }) {
  return (
    <nav className="tree" aria-label="Categories">
      <ul>
        <li>
          <Link to={hrefOf(null)} aria-current={current === null ? 'true' : undefined}>
            All categories
          </Link>
        </li>
        {tree.map((c) => (
          <Node key={c.id} node={c} current={current} hrefOf={hrefOf} />
        ))}
      </ul>
    </nav>
  );
}

function Node({ node, current, hrefOf }: { node: Category; current: string | null; hrefOf: (id: string | null) => string }) {
  return (
    <li>
      <Link to={hrefOf(node.id)} aria-current={current === node.id ? 'true' : undefined}>
        {node.name}
      </Link>
      {node.children.length > 0 && (
        <ul>
          {node.children.map((c) => (
            <Node key={c.id} node={c} current={current} hrefOf={hrefOf} />
          ))}
        </ul>
      )}
    </li>
  );
}
