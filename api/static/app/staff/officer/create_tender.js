// The officer's new tender (#/officer/new/tender): title and currency, the opening
// committee (each officer's id and X25519 public key, from the committee keys page) and
// how many of them open the envelopes together (k of n), the lots (each with its
// deadline, opening time and envelopes), who sees the opened offers, the award criterion
// (price, MEAT with its features and weights, life-cycle cost) and what follows the
// opening (an award, or a multi-round auction with the rules in auction_rules). Checked
// as it is filled against the tender body's JSON Schema the server publishes
// (GET /api/v1/schemas/tender.json); reviewed in words; POST /api/v1/tenders; the
// server's problem beside the field it names; once published, #/officer/tender/<id>.
// Call order as create_auction.js.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useMemo, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { formatLocale, moneyLocale, t } from '../../i18n.js';
import { formatDateTime, zoneLabel } from '../../time.js';
import { useStylesheet } from '../style.js';
import { currenciesOf } from './create_auction.js';
import { fieldId, RadioRow, SelectRow, TextRow } from './create/fields.js';
import { CreateWaiting, reviewAndPublish, shownErrors, useCreateState } from './create/page.js';
import { RulesWords } from './create/preview.js';
import { localMessage, schemaMessage } from './create/problems.js';
import { RulesFields } from './create/rules_fields.js';
import {
  buildRules,
  fieldKind,
  fieldOfPointer,
  fromLocalInput,
  newRulesForm,
  toLocalInput,
  usedFields,
} from './create/rules_form.js';
import { loadSchema } from './create/schema.js';

export const TENDER_SCHEMA_URL = '/api/v1/schemas/tender.json';
const RULES_SCHEMA_URL = '/api/v1/schemas/rules.json';
const KINDS = ['qualification', 'technical', 'financial'];
const RULES = 'ar.';
/** The first field of an item of each list: where the focus goes once one is added. */
const FIRST_FIELD = { officers: 'id', lots: 'title', features: 'name' };

function newLot(n, nowMs) {
  const deadline = Math.ceil((nowMs + 7 * 86_400_000) / 3_600_000) * 3_600_000;
  return { id: `lot-${n}`, title: '', deadline: toLocalInput(deadline), opening_at: toLocalInput(deadline + 3_600_000), kinds: ['financial'] };
}

/** A fresh tender form; the signed-in officer is the committee's first member. */
export function newTenderForm(me, nowMs = Date.now()) {
  return {
    title: '',
    currency: 'AZN',
    officers: [{ id: me ?? '', public_key: '' }],
    threshold: '1',
    lots: [newLot(1, nowMs)],
    publication: 'committee',
    follow_up: 'award',
    criterion: 'price',
    features: [{ name: '', weight: '', maximum: '' }],
    rules: { ...newRulesForm(nowMs), format: 'multiround', scoring: 'none' },
  };
}

function decimal(text) {
  return String(text ?? '').trim().replace(',', '.');
}

/** The body the form means and the problems found while reading it ({field: {key}}). */
export function buildTender(form, id) {
  const local = {};
  const body = {};
  if (id.trim()) body.id = id.trim();
  if (form.title.trim()) body.title = form.title.trim();
  body.currency = form.currency;
  body.officers = form.officers.map((o) => ({ id: o.id.trim(), public_key: o.public_key.trim() }));
  const k = String(form.threshold).trim();
  if (/^-?[0-9]+$/.test(k)) body.threshold = Number(k);
  else local.threshold = { key: k ? 'create.invalid_number' : 'create.invalid_required' };
  body.lots = form.lots.map((lot, i) => {
    const out = { id: lot.id.trim() };
    if (lot.title.trim()) out.title = lot.title.trim();
    for (const name of ['deadline', 'opening_at']) {
      const ms = fromLocalInput(lot[name]);
      if (ms === null) local[`lots.${i}.${name}`] = { key: lot[name] ? 'create.invalid_datetime' : 'create.invalid_required' };
      else out[name] = ms * 1000;
    }
    out.kinds = KINDS.filter((kind) => lot.kinds.includes(kind));
    return out;
  });
  body.publication = form.publication;
  body.follow_up = form.follow_up;
  body.criterion = form.criterion;
  if (form.criterion === 'meat') {
    body.features = form.features.map((f) => ({ name: f.name.trim(), weight: decimal(f.weight), maximum: decimal(f.maximum) }));
  }
  if (form.follow_up === 'auction') {
    const built = buildRules({ ...form.rules, currency: form.currency }, moneyLocale(), { template: true });
    body.auction_rules = built.rules;
    for (const [field, found] of Object.entries(built.local)) local[`${RULES}${field}`] = found;
  }
  return { body, local };
}

/** A pointer into the body as the form field it belongs to. */
export function tenderField(pointer, form) {
  if (pointer.startsWith('/auction_rules')) {
    return `${RULES}${fieldOfPointer(pointer.slice('/auction_rules'.length), form.rules)}`;
  }
  const parts = pointer.split('/').slice(1);
  if (parts[0] === 'lots' && parts[2] === 'kinds') return `lots.${parts[1]}.kinds`;
  return parts.slice(0, 3).join('.') || 'title';
}

/** Which fields are on the screen (a problem elsewhere goes to the status line). */
function onScreen(field, form) {
  if (field.startsWith(RULES)) {
    const name = field.slice(RULES.length);
    return form.follow_up === 'auction' && name !== 'format' && usedFields(form.rules, { template: true }).has(name);
  }
  if (field.startsWith('features')) return form.criterion === 'meat';
  const [list, index] = field.split('.');
  if (index !== undefined) return Number(index) < (form[list]?.length ?? 0);
  return true;
}

export function checkTender(document, form, id) {
  const { body, local } = buildTender(form, id);
  const errors = {};
  for (const [field, found] of Object.entries(local)) errors[field] = localMessage(found);
  for (const problem of document.check('CreateTender', body)) {
    const field = tenderField(problem.pointer, form);
    if (!onScreen(field, form) || errors[field]) continue;
    const base = field.startsWith(RULES) ? field.slice(RULES.length) : field.split('.').at(-1);
    errors[field] = schemaMessage(problem, field.endsWith('public_key') ? 'key' : fieldKind(base));
  }
  return { body, errors };
}

/** A server problem's field ('officers', 'lots.kinds', 'rules.step.amount') on the form. */
function serverField(problem, form) {
  if (typeof problem.pointer === 'string' && problem.pointer.startsWith('/')) {
    return tenderField(problem.pointer, form);
  }
  const field = problem.field;
  if (typeof field !== 'string' || !field) return null;
  if (field.startsWith('auction_rules') || field.startsWith('rules')) {
    const rest = field.replace(/^(auction_rules|rules)\.?/, '');
    return `${RULES}${fieldOfPointer(rest ? `/${rest.split('.').join('/')}` : '/step', form.rules)}`;
  }
  const top = field.split('.')[0];
  return ['lots', 'officers', 'features'].includes(top) ? top : field;
}

function GroupError({ name, error }) {
  return html`<p class="field-error group-error" id=${`${fieldId(name)}-error`} data-field=${name}>${error ?? ''}</p>`;
}

function kindsText(kinds) {
  return kinds.map((k) => t(`create.kind_${k}`)).join(', ');
}

function TenderWords({ body, form }) {
  const locale = formatLocale();
  const when = (us) => formatDateTime(us, locale);
  const first = body.lots.find((lot) => lot.deadline !== undefined);
  const zone = zoneLabel(first?.deadline ?? Date.now() * 1000, locale);
  const n = body.officers.length;
  return html`<ul class="words" id="create-words">
    <li>${t('create.tender_words_title', { title: body.title ?? '—', currency: body.currency })}</li>
    <li>${t('create.tender_words_committee', { k: body.threshold ?? '—', n, names: body.officers.map((o) => o.id).join(', ') })}</li>
    ${body.lots.map(
      (lot, i) => html`<li>
        ${t('create.tender_words_lot', {
          n: i + 1,
          title: lot.title ?? lot.id,
          deadline: lot.deadline !== undefined ? when(lot.deadline) : '—',
          opening: lot.opening_at !== undefined ? when(lot.opening_at) : '—',
          kinds: kindsText(lot.kinds),
        })}
      </li>`,
    )}
    <li>${t('create.tender_words_zone', { zone })}</li>
    <li>${t(`create.tender_words_publication_${body.publication}`)}</li>
    <li>${t(`create.tender_words_criterion_${body.criterion}`)}</li>
    ${body.criterion === 'meat'
      ? (body.features ?? []).map(
          (f) => html`<li>${t('create.tender_words_feature', { name: f.name, weight: f.weight, maximum: f.maximum })}</li>`,
        )
      : null}
    <li>
      ${t(`create.tender_words_follow_${body.follow_up}`)}
      ${body.follow_up === 'auction'
        ? html`<${RulesWords} rules=${body.auction_rules} currency=${form.currency} template=${true} />`
        : null}
    </li>
  </ul>`;
}

export default function Page({ staff }) {
  useStylesheet('/app/staff/create.css');
  const [document, setDocument] = useState(null);
  const [currencies, setCurrencies] = useState(['AZN']);
  const [failed, setFailed] = useState(false);
  const [form, setForm] = useState(() => newTenderForm(staff.claims?.sub));
  const [id, setId] = useState('');
  const state = useCreateState();
  const heading = useRef(null);
  useEffect(() => {
    Promise.all([loadSchema(TENDER_SCHEMA_URL), loadSchema(RULES_SCHEMA_URL)]).then(
      ([tender, rules]) => {
        setCurrencies(currenciesOf(rules));
        setDocument(tender);
      },
      () => setFailed(true),
    );
  }, []);
  const result = useMemo(() => (document ? checkTender(document, form, id) : null), [document, form, id]);
  useEffect(() => {
    if (state.stage === 'review') heading.current?.focus();
  }, [state.stage]);

  if (failed || !document || !result) {
    return html`<${CreateWaiting} failed=${failed} title=${t('create.tender_title')} />`;
  }
  const errors = shownErrors(state, result.errors);
  const change = (name, update) => {
    state.clearServer(name);
    if (state.status?.kind === 'error') state.setStatus(null);
    setForm((old) => update(old));
  };
  const set = (name, value) => change(name, (old) => ({ ...old, [name]: value }));
  const setItem = (list, i, name, value) =>
    change(`${list}.${i}.${name}`, (old) => ({
      ...old,
      [list]: old[list].map((item, j) => (j === i ? { ...item, [name]: value } : item)),
    }));
  const addItem = (list, item) => {
    change(list, (old) => ({ ...old, [list]: [...old[list], item(old[list].length + 1)] }));
    // The new item's first field (a lot's is its title), so the keyboard goes on from there.
    state.focusOn(fieldId(`${list}.${form[list].length}.${FIRST_FIELD[list]}`));
  };
  const removeItem = (list, i) => {
    change(list, (old) => ({ ...old, [list]: old[list].filter((_, j) => j !== i) }));
    state.focusOn(`create-add-${list}`);
  };
  const setRule = (field, value) => change(`${RULES}${field}`, (old) => ({ ...old, rules: { ...old.rules, [field]: value } }));
  const row = (name, props) => ({ name, error: errors[name], ...props });

  const lists = ['officers', 'lots', 'features'];
  const { review, publish } = reviewAndPublish(state, result, staff, {
    path: '/api/v1/tenders',
    routeOf: (body) => {
      const made = body.id ?? body.tender_id;
      return made ? `#/officer/tender/${encodeURIComponent(made)}` : null;
    },
    fieldOf: (problem) => {
      const field = serverField(problem, form);
      return field && onScreen(field, form) ? field : null;
    },
    // A list's own problem (no member named) shows beside the list; focus on its add button.
    focusOf: (field) => (lists.includes(field) ? `create-add-${field}` : fieldId(field)),
  });

  const status = html`<p
    class=${`create-status ${state.status?.kind ?? ''}`}
    id="create-status"
    tabindex="-1"
    role=${state.status?.kind === 'error' ? 'alert' : 'status'}
  >${state.status?.text ?? ''}</p>`;

  if (state.stage !== 'edit') {
    const busy = state.stage === 'publishing';
    return html`<main class="staff-main create" id="create-root" data-ready="yes" data-stage=${state.stage}>
      <h1 id="create-review-title" tabindex="-1" ref=${heading}>${t('create.review_title')}</h1>
      <section class="panel review" aria-labelledby="create-review-title">
        <p class="lead">${t('create.review_intro_tender')}</p>
        <${TenderWords} body=${result.body} form=${form} />
        <div class="actions">
          <button type="button" id="create-edit" disabled=${busy} onClick=${() => state.setStage('edit')}>${t('create.edit')}</button>
          <button type="button" class="primary" id="create-publish" disabled=${busy} onClick=${publish}>
            ${busy ? t('create.publishing') : t('create.publish')}
          </button>
        </div>
      </section>
      ${status}
    </main>`;
  }

  const n = form.officers.length;
  return html`<main class="staff-main create" id="create-root" data-ready="yes" data-stage="edit">
    <h1>${t('create.tender_title')}</h1>
    <p class="lead muted">${t('create.tender_intro')}</p>
    <form class="create-form" id="create-form" novalidate onSubmit=${review} onFocusOut=${(event) => state.touch(event.target?.name)}>
      <fieldset class="group">
        <legend>${t('create.group_what')}</legend>
        <${TextRow} ...${row('title', { label: t('create.field_title'), value: form.title, placeholder: t('create.example_title'), required: true, onInput: (v) => set('title', v) })} />
        <${SelectRow} ...${row('currency', { label: t('create.field_currency'), value: form.currency, options: currencies.map((c) => [c, c]), onInput: (v) => set('currency', v) })} />
      </fieldset>

      <fieldset class="group">
        <legend>${t('create.group_committee')}</legend>
        <p class="hint">${t('create.hint_committee')} <a href="#/officer/keys">${t('create.keys_link')}</a></p>
        <ol class="items">
          ${form.officers.map(
            (officer, i) => html`<li class="item">
              <div class="item-head">
                <h3>${t('create.officer_n', { n: i + 1 })}</h3>
                ${n > 1
                  ? html`<button type="button" id=${`create-remove-officers-${i}`} onClick=${() => removeItem('officers', i)}>
                      ${t('create.remove')}<span class="sr-only"> ${t('create.officer_n', { n: i + 1 })}</span>
                    </button>`
                  : null}
              </div>
              <${TextRow} ...${row(`officers.${i}.id`, { label: t('create.field_officer_id'), value: officer.id, required: true, onInput: (v) => setItem('officers', i, 'id', v) })} />
              <${TextRow} ...${row(`officers.${i}.public_key`, { label: t('create.field_public_key'), value: officer.public_key, placeholder: t('create.example_public_key'), hint: t('create.hint_public_key'), required: true, wide: true, onInput: (v) => setItem('officers', i, 'public_key', v) })} />
            </li>`,
          )}
        </ol>
        <${GroupError} name="officers" error=${errors.officers} />
        <button type="button" class="add" id="create-add-officers" onClick=${() => addItem('officers', () => ({ id: '', public_key: '' }))}>
          ${t('create.add_officer')}
        </button>
        <${TextRow} ...${row('threshold', { label: t('create.field_threshold'), value: form.threshold, unit: t('create.unit_of_n', { n }), inputmode: 'numeric', hint: t('create.hint_threshold'), required: true, onInput: (v) => set('threshold', v) })} />
      </fieldset>

      <fieldset class="group">
        <legend>${t('create.group_lots')}</legend>
        <p class="hint">${t('create.hint_zone', { zone: zoneLabel(Date.now() * 1000, formatLocale()) })}</p>
        <ol class="items">
          ${form.lots.map(
            (lot, i) => html`<li class="item">
              <div class="item-head">
                <h3>${t('create.lot_n', { n: i + 1 })}</h3>
                ${form.lots.length > 1
                  ? html`<button type="button" id=${`create-remove-lots-${i}`} onClick=${() => removeItem('lots', i)}>
                      ${t('create.remove')}<span class="sr-only"> ${t('create.lot_n', { n: i + 1 })}</span>
                    </button>`
                  : null}
              </div>
              <${TextRow} ...${row(`lots.${i}.title`, { label: `${t('create.field_lot_title')} (${t('create.optional')})`, value: lot.title, onInput: (v) => setItem('lots', i, 'title', v) })} />
              <${TextRow} ...${row(`lots.${i}.id`, { label: t('create.field_lot_id'), value: lot.id, hint: t('create.hint_lot_id'), required: true, onInput: (v) => setItem('lots', i, 'id', v) })} />
              <${TextRow} ...${row(`lots.${i}.deadline`, { label: t('create.field_deadline'), type: 'datetime-local', value: lot.deadline, required: true, onInput: (v) => setItem('lots', i, 'deadline', v) })} />
              <${TextRow} ...${row(`lots.${i}.opening_at`, { label: t('create.field_opening_at'), type: 'datetime-local', value: lot.opening_at, required: true, onInput: (v) => setItem('lots', i, 'opening_at', v) })} />
              <fieldset class="row" aria-describedby=${errors[`lots.${i}.kinds`] ? `${fieldId(`lots.${i}.kinds`)}-error` : null}>
                <legend>${t('create.field_kinds')}</legend>
                <div class="kinds">
                  ${KINDS.map(
                    (kind, j) => html`<label class="radio">
                      <input
                        type="checkbox"
                        id=${j === 0 ? fieldId(`lots.${i}.kinds`) : `${fieldId(`lots.${i}.kinds`)}-${kind}`}
                        name=${`lots.${i}.kinds`}
                        checked=${lot.kinds.includes(kind)}
                        onChange=${(event) =>
                          setItem('lots', i, 'kinds', event.currentTarget.checked ? [...lot.kinds, kind] : lot.kinds.filter((k) => k !== kind))}
                      />
                      <span>${t(`create.kind_${kind}`)}</span>
                    </label>`,
                  )}
                </div>
                <p class="hint">${t('create.hint_kinds')}</p>
                ${errors[`lots.${i}.kinds`] ? html`<${GroupError} name=${`lots.${i}.kinds`} error=${errors[`lots.${i}.kinds`]} />` : null}
              </fieldset>
            </li>`,
          )}
        </ol>
        <${GroupError} name="lots" error=${errors.lots} />
        <button type="button" class="add" id="create-add-lots" onClick=${() => addItem('lots', (k) => newLot(k, Date.now()))}>${t('create.add_lot')}</button>
      </fieldset>

      <fieldset class="group">
        <legend>${t('create.group_award')}</legend>
        <${RadioRow} ...${row('publication', { label: t('create.field_publication'), value: form.publication, options: [['committee', t('create.publication_committee')], ['public', t('create.publication_public')]], onInput: (v) => set('publication', v) })} />
        <${RadioRow} ...${row('criterion', { label: t('create.field_criterion'), value: form.criterion, options: [['price', t('create.criterion_price')], ['meat', t('create.criterion_meat')], ['life_cycle_cost', t('create.criterion_life_cycle_cost')]], hint: form.criterion === 'price' ? null : t(`create.hint_criterion_${form.criterion}`), onInput: (v) => set('criterion', v) })} />
        ${form.criterion === 'meat'
          ? html`<ol class="items">
                ${form.features.map(
                  (feature, i) => html`<li class="item">
                    <div class="item-head">
                      <h3>${t('create.feature_n', { n: i + 1 })}</h3>
                      ${form.features.length > 1
                        ? html`<button type="button" id=${`create-remove-features-${i}`} onClick=${() => removeItem('features', i)}>
                            ${t('create.remove')}<span class="sr-only"> ${t('create.feature_n', { n: i + 1 })}</span>
                          </button>`
                        : null}
                    </div>
                    <${TextRow} ...${row(`features.${i}.name`, { label: t('create.field_feature_name'), value: feature.name, placeholder: t('create.example_feature'), onInput: (v) => setItem('features', i, 'name', v) })} />
                    <${TextRow} ...${row(`features.${i}.weight`, { label: t('create.field_weight'), value: feature.weight, inputmode: 'decimal', placeholder: '0.2', hint: t('create.hint_weight'), onInput: (v) => setItem('features', i, 'weight', v) })} />
                    <${TextRow} ...${row(`features.${i}.maximum`, { label: t('create.field_feature_maximum'), value: feature.maximum, inputmode: 'decimal', placeholder: '1', hint: t('create.hint_feature_maximum'), onInput: (v) => setItem('features', i, 'maximum', v) })} />
                  </li>`,
                )}
              </ol>
              <${GroupError} name="features" error=${errors.features} />
              <button type="button" class="add" id="create-add-features" onClick=${() => addItem('features', () => ({ name: '', weight: '', maximum: '' }))}>
                ${t('create.add_feature')}
              </button>`
          : null}
        <${RadioRow} ...${row('follow_up', { label: t('create.field_follow_up'), value: form.follow_up, options: [['award', t('create.follow_up_award')], ['auction', t('create.follow_up_auction')]], onInput: (v) => set('follow_up', v) })} />
      </fieldset>

      ${form.follow_up === 'auction'
        ? html`<div class="template">
            <h2>${t('create.template_title')}</h2>
            <p class="hint">${t('create.hint_template')}</p>
            <${RulesFields} form=${{ ...form.rules, currency: form.currency }} set=${setRule} errors=${errors} currencies=${currencies} template=${true} prefix=${RULES} />
          </div>`
        : null}

      <details class="group more" id="create-details" open=${Boolean(errors.id)}>
        <summary>${t('ui.details')}</summary>
        <${TextRow} ...${row('id', { label: `${t('create.field_tender_id')} (${t('create.optional')})`, value: id, hint: t('create.hint_id'), onInput: (v) => { state.clearServer('id'); setId(v); } })} />
      </details>
      ${status}
      <div class="actions">
        <button type="submit" class="primary" id="create-review">${t('create.review')}</button>
      </div>
    </form>
  </main>`;
}
