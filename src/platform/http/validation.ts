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

export function paramsValidator(schema: object) {
  return textAjv.compile(schema);
}
