// The wire contract as the server publishes it: the JSON Schemas generated from
// contracts/messages.py and contracts/http.py (GET /api/v1/schemas/messages.json and
// /api/v1/schemas/http.json). The page builds every message it sends and reads every
// frame it receives through a Contract, so it never keeps a list of fields of its own:
// a field the server adds, renames or drops shows up here, not as a silent mismatch.
//
// The validator knows the JSON Schema (draft 2020-12) keywords the contract uses and
// refuses a schema with any other (ContractError at load), so a contract that grows a
// keyword cannot be half-checked.
//
// Call order: const contract = await loadContract(); then contract.message('bid', {...})
// to send, contract.read(frameText) for what arrives.

/** A value or a schema that does not fit the contract; `problems` lists where and why. */
export class ContractError extends Error {
  constructor(message, problems = []) {
    super(message);
    this.name = 'ContractError';
    this.problems = problems;
  }
}

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'examples', 'default']);
const KEYWORDS = new Set([
  ...ANNOTATIONS,
  '$defs', '$ref', 'type', 'const', 'enum', 'pattern', 'minLength', 'maxLength', 'minimum',
  'maximum', 'properties', 'required', 'additionalProperties', 'items', 'anyOf', 'allOf',
]);
// Members of the published documents beside the schema proper.
const DOCUMENT_MEMBERS = new Set(['protocol', 'client', 'server']);

function kind(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value; // 'string', 'boolean', 'object'
}

function sameJson(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function checkKeywords(schema, where, skip = new Set()) {
  if (typeof schema === 'boolean') return;
  if (kind(schema) !== 'object') throw new ContractError(`${where}: not a schema`);
  for (const [key, value] of Object.entries(schema)) {
    if (skip.has(key)) continue;
    if (!KEYWORDS.has(key)) throw new ContractError(`${where}: unsupported keyword ${key}`);
    if (key === 'properties' || key === '$defs') {
      for (const [name, sub] of Object.entries(value)) {
        checkKeywords(sub, `${where}/${key}/${name}`);
      }
    } else if (key === 'anyOf' || key === 'allOf') {
      value.forEach((sub, i) => checkKeywords(sub, `${where}/${key}/${i}`));
    } else if (key === 'items' || (key === 'additionalProperties' && typeof value !== 'boolean')) {
      checkKeywords(value, `${where}/${key}`);
    }
  }
}

const patterns = new Map();

function compiled(pattern) {
  // ECMA-262 with the u flag: how JSON Schema reads a pattern.
  if (!patterns.has(pattern)) patterns.set(pattern, new RegExp(pattern, 'u'));
  return patterns.get(pattern);
}

/** The problems of `value` against `schema` (resolving $ref in `root`), as
 *  [{path, problem}]; empty when it is valid. O(size of the value x the schema). */
export function validate(schema, value, root = schema, path = '') {
  if (schema === true) return [];
  if (schema === false) return [{ path, problem: 'nothing is allowed here' }];
  const problems = [];
  const fail = (problem, at = path) => problems.push({ path: at || '/', problem });
  if (schema.$ref !== undefined) {
    const match = /^#\/\$defs\/([^/]+)$/.exec(schema.$ref);
    const target = match && root.$defs?.[match[1]];
    if (!target) throw new ContractError(`unresolvable $ref ${schema.$ref}`);
    problems.push(...validate(target, value, root, path));
  }
  const type = kind(value);
  if (schema.type !== undefined) {
    const allowed = [].concat(schema.type);
    const fits = allowed.includes(type) || (type === 'integer' && allowed.includes('number'));
    if (!fits) {
      return [...problems, { path: path || '/', problem: `must be ${allowed.join(' or ')}` }];
    }
  }
  if (schema.const !== undefined && !sameJson(schema.const, value)) {
    fail(`must be ${JSON.stringify(schema.const)}`);
  }
  if (schema.enum !== undefined && !schema.enum.some((each) => sameJson(each, value))) {
    fail('is not one of the allowed values');
  }
  if (type === 'string') {
    const length = [...value].length; // code points, as JSON Schema counts
    if (schema.maxLength !== undefined && length > schema.maxLength) fail('is too long');
    if (schema.minLength !== undefined && length < schema.minLength) fail('is too short');
    if (schema.pattern !== undefined && !compiled(schema.pattern).test(value)) {
      fail('is not in the expected form');
    }
  }
  if (type === 'integer' || type === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) fail(`must be ≥ ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) fail(`must be ≤ ${schema.maximum}`);
  }
  if (type === 'object') {
    const properties = schema.properties ?? {};
    for (const name of schema.required ?? []) {
      if (!Object.hasOwn(value, name)) fail('is required', `${path}/${name}`);
    }
    for (const [name, member] of Object.entries(value)) {
      const at = `${path}/${name}`;
      if (Object.hasOwn(properties, name)) {
        problems.push(...validate(properties[name], member, root, at));
      } else if (schema.additionalProperties === false) {
        fail('is not a field of this message', at);
      } else if (kind(schema.additionalProperties) === 'object') {
        problems.push(...validate(schema.additionalProperties, member, root, at));
      }
    }
  }
  if (type === 'array' && schema.items !== undefined) {
    value.forEach((item, i) => {
      problems.push(...validate(schema.items, item, root, `${path}/${i}`));
    });
  }
  if (schema.anyOf !== undefined) {
    if (!schema.anyOf.some((sub) => validate(sub, value, root, path).length === 0)) {
      fail('matches none of the allowed forms');
    }
  }
  for (const sub of schema.allOf ?? []) problems.push(...validate(sub, value, root, path));
  return problems;
}

/** One published document: its schemas by name, and for the websocket protocol the
 *  type tags each side sends. */
export class Contract {
  constructor(document) {
    checkKeywords(document, '#', DOCUMENT_MEMBERS);
    this.document = document;
    this.protocol = document.protocol ?? null;
    this.client = document.client ?? {};
    this.server = document.server ?? {};
  }

  /** The names of the schemas (class names: 'Bid', 'BidBody'). */
  names() {
    return Object.keys(this.document.$defs);
  }

  schema(name) {
    const found = this.document.$defs[name];
    if (!found) throw new ContractError(`the contract has no ${name}`);
    return found;
  }

  /** The fields of schema `name`, and which of them are required. */
  fields(name) {
    const schema = this.schema(name);
    return { all: Object.keys(schema.properties ?? {}), required: [...(schema.required ?? [])] };
  }

  /** The problems of `value` as a `name` ([] if it fits). */
  check(name, value) {
    return validate(this.schema(name), value, this.document);
  }

  /** The client message of type tag `type` with `fields`, checked; ContractError if the
   *  contract would refuse it (never sent half-right). */
  message(type, fields = {}) {
    const name = this.client[type];
    if (!name) throw new ContractError(`no client message ${type}`);
    const value = { ...fields, type };
    const problems = this.check(name, value);
    if (problems.length) throw new ContractError(`${type} does not fit the contract`, problems);
    return value;
  }

  /** A frame's text read as a server message, checked against its schema;
   *  ContractError for a frame that is not one (the page then says so, and reloads). */
  read(text) {
    let value;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ContractError('the frame is not JSON');
    }
    const name = kind(value) === 'object' ? this.server[value.type] : undefined;
    if (!name) throw new ContractError(`no server message ${String(value?.type)}`);
    const problems = this.check(name, value);
    if (problems.length) {
      throw new ContractError(`${value.type} does not fit the contract`, problems);
    }
    return value;
  }
}

/** Fetch a published document (the websocket protocol's by default) as a Contract. */
export async function loadContract(url = '/api/v1/schemas/messages.json') {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new ContractError(`contract ${url}: HTTP ${response.status}`);
  return new Contract(await response.json());
}
