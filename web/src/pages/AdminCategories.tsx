// Admin: the category tree. Add a category (at the top or under a parent), rename it, move it
// (never under itself or its subcategories: the server refuses that too), delete an empty one.
// A rename keeps the slug: paths are links people keep. After each change the header's
// category menu is refreshed.
import { useEffect, useState, type FormEvent } from 'react';
import { ErrorNotice, Field } from '../components/Common.js';
import { categoryTree, createCategory, deleteCategory, subtreeIds, updateCategory, type CategoryNode } from '../lib/admin.js';
import { flattenCategories, publishCategories } from '../lib/catalog.js';
import { useResource } from '../lib/hooks.js';
import { ConfirmButton, Outcome, useAction } from './AdminParts.js';

const indent = (depth: number) => '\u2003'.repeat(depth);

export function AdminCategories() {
  const tree = useResource('categories', (signal) => categoryTree(signal));
  const action = useAction();
  const [editing, setEditing] = useState<{ id: string; mode: 'rename' | 'move' } | null>(null);
  useEffect(() => {
    if (tree.data) publishCategories(tree.data.items);
  }, [tree.data]);
  const all = tree.data ? flattenCategories(tree.data.items) : [];

  const change = async <T,>(work: () => Promise<T>, doneText: (r: T) => string) => {
    const result = await action.run(work, doneText);
    if (result !== undefined) {
      setEditing(null);
      tree.reload();
    }
    return result;
  };

  return (
    <section className="stack" aria-labelledby="categories-h">
      <h2 id="categories-h">Categories</h2>
      <AddCategory all={all} change={change} busy={action.busy} />
      <Outcome state={action} testId="category-outcome" />
      <div className="panel tight">
        {tree.error ? (
          <ErrorNotice error={tree.error} retry={tree.reload} />
        ) : !tree.data ? (
          <p className="muted">Loading…</p>
        ) : tree.data.items.length === 0 ? (
          <p className="muted">No categories yet. Add the first above.</p>
        ) : (
          <div className="admin-tree">
            <Branch nodes={tree.data.items} all={all} editing={editing} setEditing={setEditing} change={change} busy={action.busy} label="Category tree" />
          </div>
        )}
      </div>
    </section>
  );
}

type Change = <T>(work: () => Promise<T>, doneText: (r: T) => string) => Promise<T | undefined>;

function AddCategory({ all, change, busy }: { all: CategoryNode[]; change: Change; busy: boolean }) {
  const [name, setName] = useState('');
  const [parentId, setParentId] = useState('');
  const [slug, setSlug] = useState('');
  const [errors, setErrors] = useState<{ name?: string; slug?: string }>({});
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return setErrors({ name: 'Give the category a name' });
    if (slug.trim() && !/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(slug.trim())) return setErrors({ slug: 'Lower-case letters and digits in words joined by hyphens' });
    setErrors({});
    const created = await change(
      () => createCategory({ name: name.trim(), parentId: parentId || null, ...(slug.trim() && { slug: slug.trim() }) }),
      (c) => `Added “${c.name}” (${c.path}).`,
    );
    if (created) {
      setName('');
      setSlug('');
    }
  };
  return (
    <form className="panel forms-grid" onSubmit={submit} noValidate aria-labelledby="add-category-h">
      <h3 id="add-category-h" style={{ gridColumn: '1 / -1', margin: 0 }}>
        Add a category
      </h3>
      <Field id="category-name" label="Name" error={errors.name}>
        <input id="category-name" value={name} maxLength={80} onChange={(e) => setName(e.target.value)} aria-invalid={errors.name ? true : undefined} />
      </Field>
      <div className="field">
        <label htmlFor="category-parent">Under</label>
        <select id="category-parent" value={parentId} onChange={(e) => setParentId(e.target.value)}>
          <option value="">Top level</option>
          {all.map((c) => (
            <option key={c.id} value={c.id}>
              {indent(c.depth)}
              {c.name}
            </option>
          ))}
        </select>
      </div>
      <Field id="category-slug" label="Slug (optional)" hint="Made from the name when left empty, e.g. film-cameras" error={errors.slug}>
        <input id="category-slug" value={slug} maxLength={80} onChange={(e) => setSlug(e.target.value)} aria-invalid={errors.slug ? true : undefined} aria-describedby="category-slug-hint" />
      </Field>
      <div style={{ alignSelf: 'end' }}>
        <button type="submit" className="btn primary" disabled={busy}>
          Add category
        </button>
      </div>
    </form>
  );
}

interface BranchProps {
  nodes: CategoryNode[];
  all: CategoryNode[];
  editing: { id: string; mode: 'rename' | 'move' } | null;
  setEditing: (e: { id: string; mode: 'rename' | 'move' } | null) => void;
  change: Change;
  busy: boolean;
  label?: string;
}

function Branch({ nodes, label, ...rest }: BranchProps) {
  return (
    <ul aria-label={label}>
      {nodes.map((c) => (
        <li key={c.id}>
          <CategoryRow node={c} {...rest} />
          {c.children.length > 0 && <Branch nodes={c.children} {...rest} />}
        </li>
      ))}
    </ul>
  );
}

function CategoryRow({ node, all, editing, setEditing, change, busy }: Omit<BranchProps, 'nodes' | 'label'> & { node: CategoryNode }) {
  const mode = editing?.id === node.id ? editing.mode : null;
  return (
    <div className="row" data-testid={`category-${node.path}`}>
      <div>
        <strong>{node.name}</strong> <span className="mono muted">{node.path}</span>
      </div>
      {mode === 'rename' ? (
        <RenameForm node={node} change={change} busy={busy} cancel={() => setEditing(null)} />
      ) : mode === 'move' ? (
        <MoveForm node={node} all={all} change={change} busy={busy} cancel={() => setEditing(null)} />
      ) : (
        <div className="cluster">
          <button type="button" className="btn small" aria-label={`Rename ${node.name}`} onClick={() => setEditing({ id: node.id, mode: 'rename' })}>
            Rename
          </button>
          <button type="button" className="btn small" aria-label={`Move ${node.name}`} onClick={() => setEditing({ id: node.id, mode: 'move' })}>
            Move
          </button>
          <ConfirmButton
            label="Delete"
            question={`Delete ${node.name}?`}
            confirmLabel="Delete"
            disabled={busy}
            onConfirm={() => void change(() => deleteCategory(node.id), () => `Deleted “${node.name}”.`)}
          />
        </div>
      )}
    </div>
  );
}

function RenameForm({ node, change, busy, cancel }: { node: CategoryNode; change: Change; busy: boolean; cancel: () => void }) {
  const [name, setName] = useState(node.name);
  const id = `rename-${node.id}`;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim() || name.trim() === node.name) return cancel();
    void change(() => updateCategory(node.id, { name: name.trim() }), (c) => `Renamed to “${c.name}”; the path stays ${c.path}.`);
  };
  return (
    <form className="cluster" onSubmit={submit} onKeyDown={(e) => e.key === 'Escape' && cancel()}>
      <label htmlFor={id} className="visually-hidden">
        New name for {node.name}
      </label>
      <input id={id} value={name} maxLength={80} onChange={(e) => setName(e.target.value)} autoFocus style={{ width: 'auto', minWidth: 180 }} />
      <button type="submit" className="btn small primary" disabled={busy}>
        Save name
      </button>
      <button type="button" className="btn small ghost" onClick={cancel}>
        Cancel
      </button>
    </form>
  );
}

function MoveForm({ node, all, change, busy, cancel }: { node: CategoryNode; all: CategoryNode[]; change: Change; busy: boolean; cancel: () => void }) {
  const blocked = subtreeIds(node);
  const [parentId, setParentId] = useState(node.parentId ?? '');
  const id = `move-${node.id}`;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const target = parentId || null;
    if (target === node.parentId) return cancel();
    void change(
      () => updateCategory(node.id, { parentId: target }),
      (c) => `Moved “${c.name}” to ${c.path}.`,
    );
  };
  return (
    <form className="cluster" onSubmit={submit} onKeyDown={(e) => e.key === 'Escape' && cancel()}>
      <label htmlFor={id}>Move {node.name} under</label>
      <select id={id} value={parentId} onChange={(e) => setParentId(e.target.value)} autoFocus style={{ width: 'auto' }}>
        <option value="">Top level</option>
        {all
          .filter((c) => !blocked.has(c.id))
          .map((c) => (
            <option key={c.id} value={c.id}>
              {indent(c.depth)}
              {c.name}
            </option>
          ))}
      </select>
      <button type="submit" className="btn small primary" disabled={busy}>
        Move here
      </button>
      <button type="button" className="btn small ghost" onClick={cancel}>
        Cancel
      </button>
    </form>
  );
}
