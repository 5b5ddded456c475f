// Two validators: bodies are taken exactly as sent (no type coercion, unknown fields are an
// error, never silently dropped); path and query strings are coerced, since they are text.
import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats ships CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

const common: Options = { allErrors: true, useDefaults: true, removeAdditional: false, strictSchema: false, strictTypes: false };

function makeAjv(coerceTypes: Options['coerceTypes']): Ajv {
  const ajv = new Ajv({ ...common, coerceTypes });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv;
}

const bodyAjv = makeAjv(false);
const textAjv = makeAjv('array');

export function bodyValidator(schema: object) {
  return bodyAjv.compile(schema);
}

/**
 * Coercion turns "1e400" and "Infinity" into Infinity, which ajv then lets past minimum and
 * maximum (they only look at finite numbers): no path or query value may be infinite. Nor may
 * one hold U+0000 (%00), which PostgreSQL text cannot store.
 */
export function paramsValidator(schema: object) {
  const validate = textAjv.compile(schema);
  const faultOf = (x: unknown): string | undefined =>
    typeof x === 'number' && !Number.isFinite(x) ? 'must be a finite number' : typeof x === 'string' && x.includes('\u0000') ? 'must not contain the NUL character (U+0000)' : undefined;
  const checked = (data: unknown): boolean => {
    const valid = validate(data);
    checked.errors = validate.errors;
    if (!valid || typeof data !== 'object' || data === null) return valid;
    const faults = Object.entries(data).flatMap(([key, v]) => (Array.isArray(v) ? v : [v]).map(faultOf).filter((m) => m !== undefined).slice(0, 1).map((message) => ({ key, message })));
    if (faults.length === 0) return true;
    checked.errors = faults.map(({ key, message }) => ({ instancePath: `/${key}`, schemaPath: '#', keyword: 'type', params: {}, message }));
    return false;
  };
  checked.errors = null as typeof validate.errors;
  return checked;
}
