// A lot, new or being edited: title, description, category from the tree, condition, and its
// images: picked with a preview, uploaded as multipart, reordered (the first is the cover) and
// deleted, with the node's limits shown before and its refusals shown after. Once an auction
// holds the lot it is read-only: bidders bid on what they saw.
import { useEffect, useRef, useState, type ChangeEvent, type Dispatch, type FormEvent, type SetStateAction } from 'react';
import { flushSync } from 'react-dom';
import { ErrorNotice, Field } from '../components/Common.js';
import { ConfirmDialog } from '../components/ConfirmDialog.js';
import { ApiError, messageOf } from '../lib/api.js';
import { categories, flattenCategories, type Category } from '../lib/catalog.js';
import { useResource, useTitle } from '../lib/hooks.js';
import { newKey } from '../lib/ids.js';
import { Link, navigate } from '../lib/router.js';
import {
  CONDITION_MEANINGS,
  formatBytes,
  imageLimits,
  leaveNotice,
  LOT_CONDITIONS,
  LOT_DESCRIPTION_MAX_LENGTH,
  LOT_TITLE_MAX_LENGTH,
  sellApi,
  takeNotice,
  uploadRefusal,
  type ImageLimits,
  type Lot,
  type LotFields,
  type LotImage,
} from '../lib/sell.js';
import { useStore } from '../lib/store.js';
import { CONDITIONS } from '../lib/auctions.js';
import { SellerGate, SellTabs } from './Sell.js';

export function LotPage({ id }: { id?: string }) {
  useTitle(id ? 'Edit lot' : 'List a new lot');
  return <SellerGate what="your lots">{(user) => (id ? <EditLot key={id} id={id} userId={user.id} admin={user.roles.includes('admin')} /> : <NewLot />)}</SellerGate>;
}

// --- the lot's own fields -----------------------------------------------------------------------

type FieldErrors = Partial<Record<keyof LotFields | 'general', string>>;

function checkFields(f: LotFields): FieldErrors {
  const errors: FieldErrors = {};
  if (!f.title.trim()) errors.title = 'Give the lot a title.';
  else if (f.title.trim().length > LOT_TITLE_MAX_LENGTH) errors.title = `At most ${LOT_TITLE_MAX_LENGTH} characters.`;
  if (f.description.length > LOT_DESCRIPTION_MAX_LENGTH) errors.description = `At most ${LOT_DESCRIPTION_MAX_LENGTH.toLocaleString()} characters.`;
  if (!f.categoryId) errors.categoryId = 'Choose a category.';
  return errors;
}

/** The server's field problems, or its message as a general one. */
function errorsOf(error: unknown): FieldErrors {
  if (error instanceof ApiError) {
    const named: FieldErrors = {};
    for (const field of ['title', 'description', 'categoryId', 'condition'] as const) {
      const message = error.fieldMessage(field);
      if (message) named[field] = message;
    }
    return Object.keys(named).length ? named : { general: error.message };
  }
  return { general: messageOf(error) };
}

/** Every category once, parents first, each named by its path ("Cameras › Film cameras"). */
function flatCategories(tree: Category[]): Array<{ id: string; label: string }> {
  const labels = new Map<string, string>();
  return flattenCategories(tree).map((c) => {
    const parent = c.parentId ? labels.get(c.parentId) : undefined;
    const label = parent ? `${parent} › ${c.name}` : c.name;
    labels.set(c.id, label);
    return { id: c.id, label };
  });
}

function LotFieldsEditor({ fields, setFields, errors, disabled }: { fields: LotFields; setFields: Dispatch<SetStateAction<LotFields>>; errors: FieldErrors; disabled: boolean }) {
  const { tree, loaded } = useStore(categories);
  const options = flatCategories(tree);
  const set = <K extends keyof LotFields>(key: K) => (value: LotFields[K]) => setFields((f) => ({ ...f, [key]: value }));
  const invalid = (key: keyof LotFields) => (errors[key] ? true : undefined);
  const describedBy = (key: string, hint: boolean) => [hint && `lot-${key}-hint`, errors[key as keyof FieldErrors] && `lot-${key}-error`].filter(Boolean).join(' ') || undefined;
  return (
    <fieldset className="stack" disabled={disabled}>
      <legend className="visually-hidden">The lot</legend>
      <Field id="lot-title" label="Title" hint={`One line, up to ${LOT_TITLE_MAX_LENGTH} characters: what it is, maker, year.`} error={errors.title}>
        <input id="lot-title" value={fields.title} maxLength={LOT_TITLE_MAX_LENGTH} onChange={(e) => set('title')(e.target.value)} aria-invalid={invalid('title')} aria-describedby={describedBy('title', true)} autoComplete="off" />
      </Field>
      <Field id="lot-description" label="Description" hint="Plain text; line breaks are kept. Say what a bidder needs to know: size, marks, faults, provenance." error={errors.description}>
        <textarea id="lot-description" rows={8} value={fields.description} maxLength={LOT_DESCRIPTION_MAX_LENGTH} onChange={(e) => set('description')(e.target.value)} aria-invalid={invalid('description')} aria-describedby={describedBy('description', true)} />
      </Field>
      <Field id="lot-category" label="Category" hint={loaded && options.length === 0 ? 'There are no categories yet: an admin creates them.' : undefined} error={errors.categoryId}>
        <select id="lot-category" value={fields.categoryId} onChange={(e) => set('categoryId')(e.target.value)} aria-invalid={invalid('categoryId')} aria-describedby={describedBy('categoryId', false)}>
          <option value="">Choose a category…</option>
          {options.map((o) => (
            <option key={o.id} value={o.id}>
              {o.label}
            </option>
          ))}
        </select>
      </Field>
      <fieldset className="conditions">
        <legend>Condition</legend>
        {LOT_CONDITIONS.map((c) => (
          <label key={c} className="condition-option">
            <input type="radio" name="lot-condition" value={c} checked={fields.condition === c} onChange={() => set('condition')(c)} />
            <span>
              <strong>{CONDITIONS[c]}</strong>
              <span className="small muted">{CONDITION_MEANINGS[c]}</span>
            </span>
          </label>
        ))}
        {errors.condition && (
          <span className="error small" role="alert">
            {errors.condition}
          </span>
        )}
      </fieldset>
    </fieldset>
  );
}

// --- images picked, before they are uploaded ----------------------------------------------------

interface PickedFile {
  key: string;
  file: File;
  previewUrl: string;
  /** Why it will not be sent (checked here against the node's limits), or null. */
  problem: string | null;
}

function LimitsLine({ limits, count }: { limits: ImageLimits | undefined; count: number }) {
  if (!limits) return null;
  const names = limits.contentTypes.map((t) => t.replace('image/', '').replace('jpeg', 'JPEG').replace('png', 'PNG').replace('webp', 'WebP'));
  const left = Math.max(0, limits.imagesPerLotMax - count);
  return (
    <p className="small muted" data-testid="image-limits">
      {names.join(', ')} · at most {formatBytes(limits.imageMaxBytes)} each · up to {limits.imagesPerLotMax} images per lot ({left} more)
    </p>
  );
}

/** Marks what the node will refuse: too large, not an image type it takes, beyond the count. */
function checkPicked(files: PickedFile[], limits: ImageLimits | undefined, existing: number): PickedFile[] {
  if (!limits) return files;
  let room = limits.imagesPerLotMax - existing;
  return files.map((f) => {
    let problem: string | null = null;
    if (f.file.size > limits.imageMaxBytes) problem = `Larger than ${formatBytes(limits.imageMaxBytes)}: it will not be sent.`;
    else if (f.file.type && !limits.contentTypes.includes(f.file.type)) problem = 'Not a JPEG, PNG or WebP image: it will not be sent.';
    else if (room <= 0) problem = `Beyond ${limits.imagesPerLotMax} images per lot: it will not be sent.`;
    else room -= 1;
    return { ...f, problem };
  });
}

function FilePicker({ files, setFiles, limits, existing, disabled }: { files: PickedFile[]; setFiles: Dispatch<SetStateAction<PickedFile[]>>; limits: ImageLimits | undefined; existing: number; disabled: boolean }) {
  const urls = useRef(new Set<string>());
  // Previews are object URLs: let them go when the page does.
  useEffect(() => {
    const held = urls.current;
    return () => {
      for (const url of held) URL.revokeObjectURL(url);
    };
  }, []);
  const pick = (e: ChangeEvent<HTMLInputElement>) => {
    const chosen = [...(e.target.files ?? [])].map((file) => {
      const previewUrl = URL.createObjectURL(file);
      urls.current.add(previewUrl);
      return { key: newKey('file'), file, previewUrl, problem: null };
    });
    e.target.value = '';
    setFiles((f) => checkPicked([...f, ...chosen], limits, existing));
  };
  const remove = (key: string) =>
    setFiles((f) => {
      const gone = f.find((x) => x.key === key);
      if (gone) {
        URL.revokeObjectURL(gone.previewUrl);
        urls.current.delete(gone.previewUrl);
      }
      return checkPicked(
        f.filter((x) => x.key !== key),
        limits,
        existing,
      );
    });
  return (
    <div className="stack">
      <div className="field">
        <label htmlFor="lot-images">Add images</label>
        <input id="lot-images" type="file" multiple accept={(limits?.contentTypes ?? ['image/jpeg', 'image/png', 'image/webp']).join(',')} onChange={pick} disabled={disabled} aria-describedby="lot-images-hint" />
        <span className="hint" id="lot-images-hint">
          Pick one or more photographs; check them below before they are sent.
        </span>
      </div>
      {files.length > 0 && (
        <ul className="image-grid" aria-label="Images to upload" data-testid="picked-images">
          {files.map((f) => (
            <li key={f.key} className={f.problem ? 'refused' : ''}>
              <img src={f.previewUrl} alt={`Preview of ${f.file.name}`} />
              <div className="image-meta">
                <span className="name">{f.file.name}</span>
                <span className="small muted">{formatBytes(f.file.size)}</span>
                {f.problem && <span className="small error">{f.problem}</span>}
              </div>
              <button type="button" className="btn small ghost" onClick={() => remove(f.key)} aria-label={`Remove ${f.file.name}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

const sendable = (files: PickedFile[]) => files.filter((f) => !f.problem).map((f) => f.file);

function refusalOf(error: unknown, limits: ImageLimits | undefined, sent: readonly File[] = []): string {
  return error instanceof ApiError ? uploadRefusal(error.code, error.message, limits, sent.map((f) => f.name)) : messageOf(error);
}

// --- a new lot ------------------------------------------------------------------------------------

function NewLot() {
  const [fields, setFields] = useState<LotFields>({ title: '', description: '', categoryId: '', condition: 'used_good' });
  const [files, setFiles] = useState<PickedFile[]>([]);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState<string | null>(null);
  const limits = useResource('image-limits', () => imageLimits());
  // One key for this form: a retried submit never lists the lot twice.
  const idempotencyKey = useRef(newKey('lot'));
  useEffect(() => setFiles((f) => checkPicked(f, limits.data, 0)), [limits.data]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = checkFields(fields);
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy('Saving the lot…');
    let lot: Lot;
    try {
      lot = await sellApi.createLot({ ...fields, title: fields.title.trim() }, idempotencyKey.current);
    } catch (error) {
      setErrors(errorsOf(error));
      setBusy(null);
      return;
    }
    const toSend = sendable(files);
    if (toSend.length > 0) {
      setBusy(`Uploading ${toSend.length} image${toSend.length === 1 ? '' : 's'}…`);
      try {
        await sellApi.uploadImages(lot.id, toSend);
        leaveNotice(lot.id, { tone: 'success', text: `Listed, with ${toSend.length} image${toSend.length === 1 ? '' : 's'}. Auction it when you are ready.` });
      } catch (error) {
        leaveNotice(lot.id, { tone: 'danger', text: `The lot is listed, but without its images. ${refusalOf(error, limits.data, toSend)}` });
      }
    } else leaveNotice(lot.id, { tone: 'success', text: 'Listed. Add images, then auction it.' });
    navigate(`/sell/lots/${lot.id}`, { replace: true });
  };

  return (
    <div className="page stack">
      <h1>List a new lot</h1>
      <SellTabs />
      <form className="lot-layout" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy ? true : undefined}>
        <section className="panel" aria-labelledby="details-h">
          <h2 id="details-h">Details</h2>
          <LotFieldsEditor fields={fields} setFields={setFields} errors={errors} disabled={busy !== null} />
        </section>
        <section className="panel stack" aria-labelledby="images-h">
          <h2 id="images-h">Images</h2>
          <LimitsLine limits={limits.data} count={0} />
          <FilePicker files={files} setFiles={setFiles} limits={limits.data} existing={0} disabled={busy !== null} />
          <p className="small muted">The first image is the cover. You can reorder them once the lot is listed.</p>
        </section>
        <div className="lot-submit stack">
          {errors.general && (
            <p className="notice danger" role="alert">
              {errors.general}
            </p>
          )}
          <button type="submit" className="btn primary large" disabled={busy !== null}>
            {busy ?? 'List the lot'}
          </button>
        </div>
      </form>
    </div>
  );
}

// --- editing a lot --------------------------------------------------------------------------------

function EditLot({ id, userId, admin }: { id: string; userId: string; admin: boolean }) {
  const lot = useResource(id, (signal) => sellApi.lot(id, signal));
  const [notice] = useState(() => takeNotice(id));
  useTitle(lot.data ? `Edit: ${lot.data.title}` : 'Edit lot');
  if (lot.error) return <div className="page"><ErrorNotice error={lot.error} retry={lot.reload} /></div>;
  if (!lot.data) return <div className="page"><p className="muted">Loading…</p></div>;
  const mine = lot.data.sellerId === userId || admin;
  return (
    <div className="page stack">
      <div className="spread">
        <h1>{lot.data.title}</h1>
        {mine && !lot.data.locked && (
          <Link className="btn primary" to={`/sell/lots/${id}/auction`}>
            Auction this lot
          </Link>
        )}
      </div>
      <SellTabs />
      {notice && (
        <p className={`notice ${notice.tone}`} role={notice.tone === 'danger' ? 'alert' : 'status'} data-testid="lot-notice">
          {notice.text}
        </p>
      )}
      {!mine ? (
        <p className="notice warning">This lot belongs to another seller.</p>
      ) : (
        <>
          {lot.data.locked && <LockedNotice lotId={id} />}
          <div className="lot-layout">
            <DetailsForm lot={lot.data} onSaved={(saved) => lot.setData(saved)} />
            <Images lot={lot.data} onImages={(images) => lot.setData((l) => ({ ...(l ?? lot.data!), images }))} />
            {!lot.data.locked && <DeleteLot lot={lot.data} />}
          </div>
        </>
      )}
    </div>
  );
}

function LockedNotice({ lotId }: { lotId: string }) {
  const holder = useResource(`holder-${lotId}`, async (signal) => (await sellApi.myAuctions(null, signal)).items.find((a) => a.lotId === lotId && (a.status === 'scheduled' || a.status === 'open' || a.outcome === 'sold')));
  return (
    <div className="notice warning">
      <p>
        An auction holds this lot, or has sold it, so it can no longer change: bidders bid on what they saw.{' '}
        {holder.data && <Link to={`/sell/auctions/${holder.data.id}`}>See the auction’s results</Link>}
      </p>
    </div>
  );
}

function DetailsForm({ lot, onSaved }: { lot: Lot; onSaved: (lot: Lot) => void }) {
  const initial: LotFields = { title: lot.title, description: lot.description, categoryId: lot.categoryId, condition: lot.condition };
  const [fields, setFields] = useState<LotFields>(initial);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSaved(null);
    const found = checkFields(fields);
    setErrors(found);
    if (Object.keys(found).length) return;
    const next = { ...fields, title: fields.title.trim() };
    const patch: Partial<LotFields> = {};
    for (const key of ['title', 'description', 'categoryId', 'condition'] as const) if (next[key] !== initial[key]) Object.assign(patch, { [key]: next[key] });
    if (Object.keys(patch).length === 0) {
      setSaved('Nothing has changed.');
      return;
    }
    setBusy(true);
    try {
      const updated = await sellApi.updateLot(lot.id, patch);
      onSaved(updated);
      setFields({ title: updated.title, description: updated.description, categoryId: updated.categoryId, condition: updated.condition });
      setSaved('Saved.');
    } catch (error) {
      setErrors(error instanceof ApiError && error.code === 'LOT_LOCKED' ? { general: 'An auction holds this lot now, so it can no longer change.' } : errorsOf(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="panel stack" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="details-h">
      <h2 id="details-h">Details</h2>
      <LotFieldsEditor fields={fields} setFields={setFields} errors={errors} disabled={lot.locked || busy} />
      {errors.general && (
        <p className="notice danger" role="alert">
          {errors.general}
        </p>
      )}
      <div className="cluster">
        {!lot.locked && (
          <button type="submit" className="btn primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save changes'}
          </button>
        )}
        <span role="status" className="small muted">
          {saved}
        </span>
      </div>
    </form>
  );
}

function Images({ lot, onImages }: { lot: Lot; onImages: (images: LotImage[]) => void }) {
  const limits = useResource('image-limits', () => imageLimits());
  const [files, setFiles] = useState<PickedFile[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const images = [...lot.images].sort((a, b) => a.position - b.position);
  useEffect(() => setFiles((f) => checkPicked(f, limits.data, images.length)), [limits.data, images.length]);

  const upload = async () => {
    const toSend = sendable(files);
    if (toSend.length === 0) return;
    setBusy(true);
    setError(null);
    setStatus(`Uploading ${toSend.length} image${toSend.length === 1 ? '' : 's'}…`);
    try {
      const added = await sellApi.uploadImages(lot.id, toSend);
      onImages([...images, ...added.items]);
      setFiles([]);
      setStatus(`${added.items.length} image${added.items.length === 1 ? '' : 's'} added.`);
    } catch (e) {
      setError(refusalOf(e, limits.data, toSend));
      setStatus(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel stack" aria-labelledby="images-h">
      <h2 id="images-h">Images</h2>
      <LimitsLine limits={limits.data} count={images.length} />
      <Gallery lot={lot} images={images} onImages={onImages} onError={setError} />
      {!lot.locked && (
        <>
          <FilePicker files={files} setFiles={setFiles} limits={limits.data} existing={images.length} disabled={busy} />
          {files.length > 0 && (
            <button type="button" className="btn primary" disabled={busy || sendable(files).length === 0} onClick={() => void upload()}>
              {busy ? 'Uploading…' : `Upload ${sendable(files).length} image${sendable(files).length === 1 ? '' : 's'}`}
            </button>
          )}
        </>
      )}
      {error && (
        <p className="notice danger" role="alert" data-testid="image-error">
          {error}
        </p>
      )}
      <p className="small muted" role="status">
        {status}
      </p>
    </section>
  );
}

/** The lot's images in order, the cover first: move earlier or later, delete (asked twice). */
function Gallery({ lot, images, onImages, onError }: { lot: Lot; images: LotImage[]; onImages: (images: LotImage[]) => void; onError: (message: string | null) => void }) {
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // No button here is ever `disabled`: Chromium drops the focus of a button that becomes
  // disabled (the one just pressed, once its image is first or last), and keyboard users with
  // it. They are aria-disabled instead, and an action that cannot run now is ignored.
  const busyNow = useRef(false);
  const list = useRef<HTMLOListElement>(null);
  const focusAfter = useRef<{ id: string; action: string } | null>(null);
  useEffect(() => {
    const target = focusAfter.current;
    if (!target || !list.current) return;
    const buttons = [...list.current.querySelectorAll<HTMLButtonElement>(`[data-image-id="${target.id}"] button`)];
    const usable = (b: HTMLButtonElement) => b.getAttribute('aria-disabled') !== 'true';
    const button = buttons.find((b) => b.dataset.action === target.action && usable(b)) ?? buttons.find(usable);
    // While a change is on its way every button waits (aria-disabled): so does the focus.
    if (!button && buttons.length > 0) return;
    focusAfter.current = null;
    button?.focus();
  });

  /** Focus on the image's `action` button, or its first usable one (e.g. "later" once it is first). */
  const focusOn = (id: string, action: string) => {
    const buttons = [...(list.current?.querySelectorAll<HTMLButtonElement>(`[data-image-id="${id}"] button`) ?? [])];
    const usable = (b: HTMLButtonElement) => b.getAttribute('aria-disabled') !== 'true';
    (buttons.find((b) => b.dataset.action === action && usable(b)) ?? buttons.find(usable))?.focus();
  };

  const move = async (index: number, by: -1 | 1, action: string) => {
    if (busyNow.current || index + by < 0 || index + by >= images.length) return;
    busyNow.current = true;
    const order = images.map((i) => i.id);
    const [moved] = order.splice(index, 1);
    order.splice(index + by, 0, moved!);
    const before = images;
    onImages(order.map((id, position) => ({ ...images.find((i) => i.id === id)!, position })));
    setBusy(true);
    onError(null);
    let answer: LotImage[] = before;
    try {
      answer = (await sellApi.reorderImages(lot.id, order)).items;
    } catch (e) {
      onError(refusalOf(e, undefined));
    } finally {
      busyNow.current = false;
      // Committed at once, so the focus can move to the image's buttons as they now stand.
      flushSync(() => {
        onImages(answer);
        setBusy(false);
      });
      focusOn(moved!, action);
    }
  };

  const ask = (id: string | null, focusOn: { id: string; action: string }) => {
    focusAfter.current = focusOn;
    setConfirming(id);
  };

  const remove = async (image: LotImage) => {
    if (busyNow.current) return;
    busyNow.current = true;
    setBusy(true);
    onError(null);
    try {
      await sellApi.deleteImage(lot.id, image.id);
      // The focus goes to the image that takes its place (or the one before), not to the page.
      const at = images.findIndex((i) => i.id === image.id);
      const neighbour = images[at + 1] ?? images[at - 1];
      if (neighbour) focusAfter.current = { id: neighbour.id, action: 'ask-delete' };
      onImages(images.filter((i) => i.id !== image.id).map((i, position) => ({ ...i, position })));
      setConfirming(null);
    } catch (e) {
      onError(refusalOf(e, undefined));
    } finally {
      busyNow.current = false;
      setBusy(false);
    }
  };

  if (images.length === 0) return <p className="muted">No images yet. Lots with good photographs draw more bidders.</p>;
  return (
    <ol className="image-grid" ref={list} aria-label="Images, the cover first" data-testid="lot-images">
      {images.map((image, i) => (
        <li key={image.id} data-image-id={image.id}>
          <img src={image.url} alt={`Image ${i + 1} of ${images.length}${i === 0 ? ', the cover' : ''}`} />
          <div className="image-meta">
            <span className="name">
              {i === 0 ? <span className="badge info">Cover</span> : `Image ${i + 1}`}
            </span>
            <span className="small muted">
              {image.contentType.replace('image/', '').toUpperCase()} · {formatBytes(image.sizeBytes)}
            </span>
          </div>
          {!lot.locked && (
            <div className="cluster image-actions">
              <button type="button" className="btn small" data-action="earlier" aria-disabled={busy || i === 0 || undefined} onClick={() => void move(i, -1, 'earlier')} aria-label={`Move image ${i + 1} earlier`}>
                ←
              </button>
              <button type="button" className="btn small" data-action="later" aria-disabled={busy || i === images.length - 1 || undefined} onClick={() => void move(i, 1, 'later')} aria-label={`Move image ${i + 1} later`}>
                →
              </button>
              {confirming === image.id ? (
                <>
                  <button type="button" className="btn small primary" data-action="delete" aria-disabled={busy || undefined} onClick={() => void remove(image)} aria-label={`Yes, delete image ${i + 1}`}>
                    Delete it
                  </button>
                  <button type="button" className="btn small ghost" onClick={() => ask(null, { id: image.id, action: 'ask-delete' })}>
                    Keep
                  </button>
                </>
              ) : (
                <button type="button" className="btn small ghost" data-action="ask-delete" aria-disabled={busy || undefined} onClick={() => ask(image.id, { id: image.id, action: 'delete' })} aria-label={`Delete image ${i + 1}`}>
                  Delete
                </button>
              )}
            </div>
          )}
        </li>
      ))}
    </ol>
  );
}

function DeleteLot({ lot }: { lot: Lot }) {
  return (
    <section className="lot-danger">
      <ConfirmDialog
        id="delete-lot"
        open={{ label: 'Delete this lot', className: 'btn ghost' }}
        title={`Delete “${lot.title}”?`}
        confirmLabel="Delete the lot"
        cancelLabel="Keep it"
        action={() => sellApi.deleteLot(lot.id)}
        onDone={() => navigate('/sell', { replace: true })}
      >
        <p>The lot and its images are removed for good.</p>
      </ConfirmDialog>
    </section>
  );
}
