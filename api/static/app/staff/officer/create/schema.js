// A small JSON Schema (draft 2020-12) validator for the schemas the server publishes for
// the officer's create forms (GET /api/v1/schemas/rules.json and tender.json, generated
// from contracts/rules_schema.py): the forms never keep a list of fields or bounds of
// their own, they check what they are about to send against the server's contract.
//
// The subset those schemas use: type, const, enum, pattern, minLength, maxLength,
// minimum, maximum, properties, required, additionalProperties, items, minItems,
// maxItems, uniqueItems, anyOf, oneOf (with an OpenAPI discriminator, or const members
// that tell the alternatives apart), allOf and $ref (#/$defs/<name>). A schema with any
// other keyword is refused when loaded (SchemaError), so a contract that grows a keyword
// is never half-checked.
//
// validate(schema, value) answers [{pointer, keyword, params}]: where (a JSON Pointer,
// '/step/amount'), which keyword refused it and its bound; empty when the value fits.
// The forms turn each into words from the catalog (create.invalid.<keyword>).

export class SchemaError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SchemaError';
  }
}

const ANNOTATIONS = new Set([
  '$schema', '$id', 'title', 'description', 'examples', 'default', 'discriminator',
]);
const KEYWORDS = new Set([
  ...ANNOTATIONS,
  '$defs', '$ref', 'type', 'const', 'enum', 'pattern', 'minLength', 'maxLength', 'minimum',
  'maximum', 'properties', 'required', 'additionalProperties', 'items', 'minItems',
  'maxItems', 'uniqueItems', 'anyOf', 'oneOf', 'allOf',
]);

function kind(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Throw SchemaError unless every keyword of `schema` (and its parts) is one this
 *  validator knows. O(size of the schema). */
export function checkSchema(schema, where = '#') {
  if (typeof schema === 'boolean') return;
  if (kind(schema) !== 'object') throw new SchemaError(`${where}: not a schema`);
  for (const [key, value] of Object.entries(schema)) {
    if (!KEYWORDS.has(key)) throw new SchemaError(`${where}: unsupported keyword ${key}`);
    if (key === 'properties' || key === '$defs') {
      for (const [name, sub] of Object.entries(value)) checkSchema(sub, `${where}/${key}/${name}`);
    } else if (key === 'anyOf' || key === 'oneOf' || key === 'allOf') {
      value.forEach((sub, i) => checkSchema(sub, `${where}/${key}/${i}`));
    } else if (key === 'items' || (key === 'additionalProperties' && typeof value !== 'boolean')) {
      checkSchema(value, `${where}/${key}`);
    }
  }
}

const patterns = new Map();

function compiled(pattern) {
  if (!patterns.has(pattern)) patterns.set(pattern, new RegExp(pattern, 'u'));
  return patterns.get(pattern);
}

function resolve(ref, root) {
  const match = /^#\/\$defs\/([^/]+)$/.exec(ref);
  const target = match && root.$defs?.[match[1]];
  if (!target) throw new SchemaError(`unresolvable $ref ${ref}`);
  return target;
}

function escape(name) {
  return String(name).replace(/~/g, '~0').replace(/\//g, '~1');
}

// The alternative a value means, when the alternatives say so: by the discriminator's
// mapping, or by a member every alternative fixes with a const ('format': 'reverse').
function chosen(alternatives, schema, value, root) {
  if (kind(value) !== 'object') return null;
  const tag = schema.discriminator?.propertyName;
  if (tag !== undefined) {
    const ref = schema.discriminator.mapping?.[value[tag]];
    if (ref) return { schema: resolve(ref, root) };
    const allowed = alternatives.map((alt) => (alt.$ref ? resolve(alt.$ref, root) : alt))
      .map((alt) => alt.properties?.[tag]?.const).filter((c) => c !== undefined);
    return { miss: tag, allowed };
  }
  const full = alternatives.map((alt) => (alt.$ref ? resolve(alt.$ref, root) : alt));
  for (const [name, member] of Object.entries(full[0]?.properties ?? {})) {
    if (member.const === undefined) continue;
    if (!full.every((alt) => alt.properties?.[name]?.const !== undefined)) continue;
    const found = full.find((alt) => same(alt.properties[name].const, value[name]));
    return found ? { schema: found } : { miss: name, allowed: full.map((a) => a.properties[name].const) };
  }
  return null;
}

/** The problems of `value` against `schema` ($ref resolved in `root`), as
 *  [{pointer, keyword, params}]; [] when it fits. O(size of value x schema). */
export function validate(schema, value, root = schema, pointer = '') {
  if (schema === true) return [];
  if (schema === false) return [{ pointer, keyword: 'false', params: {} }];
  const problems = [];
  const fail = (keyword, params = {}, at = pointer) => problems.push({ pointer: at, keyword, params });
  if (schema.$ref !== undefined) problems.push(...validate(resolve(schema.$ref, root), value, root, pointer));
  const type = kind(value);
  if (schema.type !== undefined) {
    const allowed = [].concat(schema.type);
    if (!(allowed.includes(type) || (type === 'integer' && allowed.includes('number')))) {
      return [...problems, { pointer, keyword: 'type', params: { type: allowed.join('|') } }];
    }
  }
  if (schema.const !== undefined && !same(schema.const, value)) fail('const', { value: schema.const });
  if (schema.enum !== undefined && !schema.enum.some((each) => same(each, value))) {
    fail('enum', { count: schema.enum.length });
  }
  if (type === 'string') {
    const length = [...value].length;
    if (schema.maxLength !== undefined && length > schema.maxLength) fail('maxLength', { limit: schema.maxLength });
    if (schema.minLength !== undefined && length < schema.minLength) fail('minLength', { limit: schema.minLength });
    if (schema.pattern !== undefined && !compiled(schema.pattern).test(value)) fail('pattern');
  }
  if (type === 'integer' || type === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) fail('minimum', { limit: schema.minimum });
    if (schema.maximum !== undefined && value > schema.maximum) fail('maximum', { limit: schema.maximum });
  }
  if (type === 'object') {
    const properties = schema.properties ?? {};
    for (const name of schema.required ?? []) {
      if (!Object.hasOwn(value, name)) fail('required', {}, `${pointer}/${escape(name)}`);
    }
    for (const [name, member] of Object.entries(value)) {
      const at = `${pointer}/${escape(name)}`;
      if (Object.hasOwn(properties, name)) {
        problems.push(...validate(properties[name], member, root, at));
      } else if (schema.additionalProperties === false) {
        fail('additionalProperties', {}, at);
      } else if (kind(schema.additionalProperties) === 'object') {
        problems.push(...validate(schema.additionalProperties, member, root, at));
      }
    }
  }
  if (type === 'array') {
    if (schema.minItems !== undefined && value.length < schema.minItems) fail('minItems', { limit: schema.minItems });
    if (schema.maxItems !== undefined && value.length > schema.maxItems) fail('maxItems', { limit: schema.maxItems });
    if (schema.uniqueItems && new Set(value.map((each) => JSON.stringify(each))).size !== value.length) {
      fail('uniqueItems');
    }
    if (schema.items !== undefined) {
      value.forEach((item, i) => problems.push(...validate(schema.items, item, root, `${pointer}/${i}`)));
    }
  }
  for (const keyword of ['anyOf', 'oneOf']) {
    const alternatives = schema[keyword];
    if (alternatives === undefined) continue;
    const pick = chosen(alternatives, schema, value, root);
    if (pick?.schema) {
      problems.push(...validate(pick.schema, value, root, pointer));
      continue;
    }
    if (pick?.miss) {
      fail('enum', { count: pick.allowed.length }, `${pointer}/${escape(pick.miss)}`);
      continue;
    }
    const each = alternatives.map((alt) => validate(alt, value, root, pointer));
    const fitting = each.filter((found) => found.length === 0).length;
    if (keyword === 'oneOf' && fitting > 1) fail('oneOf');
    if (fitting === 0) {
      // The alternative that comes nearest says what is wrong (for a value or null:
      // the value's own problem, not "must be null").
      const nearest = each.reduce((best, found) => (found.length < best.length ? found : best));
      problems.push(...nearest);
    }
  }
  for (const sub of schema.allOf ?? []) problems.push(...validate(sub, value, root, pointer));
  return problems;
}

/** A published schema document, checked for keywords this validator knows. */
export class SchemaDocument {
  constructor(document) {
    checkSchema(document);
    this.document = document;
  }

  /** The problems of `value` as `$defs[name]`. */
  check(name, value) {
    const schema = this.document.$defs?.[name];
    if (!schema) throw new SchemaError(`the document has no ${name}`);
    return validate(schema, value, this.document);
  }

  /** The schema of `$defs[name]`, e.g. to read an enum for a choice. */
  schema(name) {
    return this.document.$defs?.[name] ?? null;
  }
}

const cache = new Map();

/** Fetch and check a schema document once per page (rules.json, tender.json). */
export function loadSchema(url) {
  if (!cache.has(url)) {
    cache.set(
      url,
      fetch(url, { credentials: 'same-origin' }).then(async (response) => {
        if (!response.ok) throw new SchemaError(`${url}: HTTP ${response.status}`);
        return new SchemaDocument(await response.json());
      }),
    );
    cache.get(url).catch(() => cache.delete(url));
  }
  return cache.get(url);
}
