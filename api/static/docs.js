// The API docs page (/api/v1/docs): renders the served OpenAPI document, every
// operation of every path, whatever its request body's media type (JSON with a schema,
// or raw bytes such as a sealed envelope's application/octet-stream upload).
//
// The page's policy allows this origin's scripts only and requires Trusted Types for
// script sinks, so everything is built with createElement and textContent: no markup is
// ever parsed from the document's strings.

const DOCUMENT_URL = '/api/v1/openapi.json';

// Sections, in page order: an operation goes to the first whose test it passes.
const SECTIONS = [
  ['auctions', 'Auctions', (path, id) => path.startsWith('/api/v1/auctions') && !id.startsWith('audit_')],
  ['invitations', 'Invitations', (path) => path.startsWith('/api/v1/invitations')],
  ['tokens', 'Tokens', (path) => path.startsWith('/api/v1/tokens')],
  ['tenders', 'Sealed tenders', (path) => path.startsWith('/api/v1/tenders')],
  ['audit', 'Audit trail', (path, id) => path.startsWith('/api/v1/audit') || id.startsWith('audit_')],
  ['schemas', 'Schemas', (path) => path.startsWith('/api/v1/schemas')],
  ['operations', 'Operations', (path) => !path.startsWith('/api/')],
  ['other', 'Other', () => true],
];
const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options'];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// Text with `code` spans (the document's descriptions use backticks) as nodes.
function prose(tag, text, attrs = {}) {
  const node = el(tag, attrs);
  String(text).split('`').forEach((part, i) => {
    if (part) node.append(i % 2 ? el('code', { text: part }) : document.createTextNode(part));
  });
  return node;
}

function resolve(doc, schema) {
  let seen = 0;
  while (schema && schema.$ref && seen++ < 10) {
    const name = schema.$ref.split('/').pop();
    schema = (doc.components && doc.components.schemas && doc.components.schemas[name]) || {};
  }
  return schema || {};
}

function refName(schema) {
  return schema && schema.$ref ? schema.$ref.split('/').pop() : null;
}

// A schema in a few words: [its type (or enum, or component name), what else it says].
function describe(doc, schema) {
  const named = refName(schema);
  const s = resolve(doc, schema);
  let type = '';
  const notes = [];
  if (s.enum) notes.push('one of ' + s.enum.map((v) => JSON.stringify(v)).join(', '));
  else if (s.const !== undefined) notes.push('exactly ' + JSON.stringify(s.const));
  if (named) type = named;
  else if (s.type) type = [].concat(s.type).join(' or ');
  else if (s.oneOf || s.anyOf) type = 'one of several shapes';
  if (s.minimum !== undefined && s.maximum !== undefined) notes.push(`${s.minimum} to ${s.maximum}`);
  if (s.maxLength !== undefined) notes.push(`up to ${s.maxLength} characters`);
  if (s.description) notes.push(s.description);
  return [type, notes.join('; ')];
}

function item(name, tags, text) {
  const head = el('span', { class: 'field' }, el('code', { text: name }));
  for (const tag of tags.filter(Boolean)) head.append(el('span', { class: 'tag', text: tag }));
  return el('li', {}, head, text ? prose('span', text, { class: 'about' }) : null);
}

function parameters(doc, op) {
  const list = (op.parameters || []).map((p) => {
    const [type, notes] = describe(doc, p.schema);
    const about = [p.description, notes].filter(Boolean).join('; ');
    return item(p.name, [p.in, type, p.required ? 'required' : 'optional'], about);
  });
  if (!list.length) return null;
  return el('section', {}, el('h4', { text: 'Parameters' }), el('ul', { class: 'fields' }, ...list));
}

function body(doc, op) {
  const request = op.requestBody;
  if (!request || !request.content) return null;
  const out = el('section', {}, el('h4', { text: request.required ? 'Request body' : 'Request body (optional)' }));
  for (const [media, content] of Object.entries(request.content)) {
    out.append(el('p', { class: 'media' }, el('code', { text: media })));
    const schema = resolve(doc, content.schema || {});
    const properties = schema.properties || {};
    const required = new Set(schema.required || []);
    const names = Object.keys(properties);
    if (names.length) {
      out.append(el('ul', { class: 'fields' }, ...names.map((name) => {
        const [type, notes] = describe(doc, properties[name]);
        return item(name, [type, required.has(name) ? 'required' : 'optional'], notes);
      })));
    } else if (media.startsWith('application/json') || media.endsWith('+json')) {
      const about = describe(doc, content.schema || {}).filter(Boolean).join('; ');
      out.append(prose('p', about ? `A JSON value: ${about}.` : 'A JSON value.'));
    } else {
      // Not JSON (an envelope's bytes): nothing to list, say what to send.
      out.append(prose('p', `The raw bytes, sent as \`${media}\` (not JSON).`));
    }
    const examples = schema.examples || (content.example !== undefined ? [content.example] : []);
    if (examples.length) {
      out.append(el('p', { class: 'label', text: 'Example' }),
        el('pre', { text: JSON.stringify(examples[0], null, 2) }));
    }
  }
  return out;
}

function responses(doc, op) {
  const list = Object.entries(op.responses || {}).map(([status, answer]) => {
    const media = Object.keys(answer.content || {});
    return el('li', {},
      el('span', { class: 'field' }, el('code', { class: `status s${status[0]}`, text: status }),
        ...media.map((m) => el('span', { class: 'tag', text: m }))),
      prose('span', answer.description || '', { class: 'about' }));
  });
  if (!list.length) return null;
  return el('section', {}, el('h4', { text: 'Responses' }), el('ul', { class: 'fields' }, ...list));
}

function operation(doc, path, method, op) {
  const id = op.operationId || `${method}-${path}`;
  const secured = Array.isArray(op.security) && op.security.length > 0;
  const summary = el('summary', {},
    el('span', { class: `method m-${method}`, text: method.toUpperCase() }),
    el('code', { class: 'path', text: path }),
    el('span', { class: 'summary', text: op.summary || id }));
  const details = el('details', { class: 'op', id: `op-${id}`, 'data-operation-id': id }, summary);
  const meta = el('p', { class: 'meta' },
    el('span', { class: secured ? 'auth' : 'auth public', text: secured ? 'Bearer token' : 'No token' }),
    el('span', { class: 'opid' }, 'operationId ', el('code', { text: id })));
  details.append(meta);
  if (op.description) details.append(prose('p', op.description, { class: 'description' }));
  for (const part of [parameters(doc, op), body(doc, op), responses(doc, op)]) {
    if (part) details.append(part);
  }
  details.dataset.search = [method, path, id, op.summary || '', op.description || ''].join(' ').toLowerCase();
  return details;
}

function render(doc) {
  const sections = new Map(SECTIONS.map(([key, title]) => [key, { title, ops: [] }]));
  let count = 0;
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const id = op.operationId || '';
      const [key] = SECTIONS.find(([, , test]) => test(path, id));
      sections.get(key).ops.push(operation(doc, path, method, op));
      count += 1;
    }
  }
  const nav = el('ul', {});
  const out = [];
  for (const [key, { title, ops }] of sections) {
    if (!ops.length) continue;
    nav.append(el('li', { 'data-group': key }, el('a', { href: `#${key}`, text: title }), ` ${ops.length}`));
    out.push(el('section', { id: key, class: 'group' },
      el('h2', {}, title, el('span', { class: 'count', text: ` ${ops.length}` })), ...ops));
  }
  return { nav, out, count };
}

function filter(ops, query, status, total) {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const op of ops) {
    const match = words.every((word) => op.dataset.search.includes(word));
    op.hidden = !match;
    if (match) shown += 1;
  }
  for (const group of document.querySelectorAll('.group')) {
    group.hidden = !group.querySelector('.op:not([hidden])');
    // Its entry in the contents goes and comes with it.
    const entry = document.querySelector(`#toc li[data-group="${group.id}"]`);
    if (entry) entry.hidden = group.hidden;
  }
  status.textContent = words.length ? `${shown} of ${total} operations match` : `${total} operations`;
}

async function main() {
  const target = document.getElementById('ops');
  const status = document.getElementById('status');
  try {
    const reply = await fetch(DOCUMENT_URL, { headers: { Accept: 'application/json' } });
    if (!reply.ok) throw new Error(`${DOCUMENT_URL} answered ${reply.status}`);
    const doc = await reply.json();
    const { nav, out, count } = render(doc);
    document.getElementById('toc').replaceChildren(nav);
    target.replaceChildren(...out);
    target.dataset.operations = String(count);
    target.removeAttribute('aria-busy');
    const search = document.getElementById('filter');
    search.disabled = false;
    const ops = [...target.querySelectorAll('.op')];
    search.addEventListener('input', () => filter(ops, search.value, status, count));
    filter(ops, '', status, count);
    // A link to one operation (#op-<operationId>) opens it.
    const wanted = location.hash && document.getElementById(location.hash.slice(1));
    if (wanted && wanted.tagName === 'DETAILS') {
      wanted.open = true;
      wanted.scrollIntoView();
    }
    target.dataset.state = 'ready';
  } catch (error) {
    target.replaceChildren(el('p', { class: 'error', role: 'alert',
      text: `The API document could not be loaded (${error.message}). It is at ${DOCUMENT_URL}.` }));
    target.removeAttribute('aria-busy');
    target.dataset.state = 'failed';
  }
}

main();
