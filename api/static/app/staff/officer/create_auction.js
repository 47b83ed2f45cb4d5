// The officer's new auction (#/officer/new/auction): a form that offers every rule the
// engine has for every format (create/rules_fields.js), checked as it is filled against
// the rules' JSON Schema the server publishes (GET /api/v1/schemas/rules.json,
// create/schema.js), then a review of the rules in plain words (create/preview.js), then
// POST /api/v1/auctions. The server's refusal (an RFC 9457 problem whose `field` names
// the rule, 'rules.step.amount') is shown beside that field, which gets the focus; the
// status line announces it. Once published: #/officer/auction/<id>.
//
// Call order on the page: edit (problems of visited fields show as they happen) ->
// "Review" (every problem shows, focus to the first; none: the review) -> "Publish"
// (one Idempotency-Key per review, so a retry cannot create two) -> the auction's page,
// or back to edit with the server's problem beside its field.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { useEffect, useMemo, useRef, useState } from '/vendor/preact@11.2.0/hooks.mjs';
import { moneyLocale, t } from '../../i18n.js';
import { useStylesheet } from '../style.js';
import { TextRow } from './create/fields.js';
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
  pointerOfServerField,
  toLocalInput,
  usedFields,
} from './create/rules_form.js';
import { loadSchema } from './create/schema.js';

export const SCHEMA_URL = '/api/v1/schemas/rules.json';

/** The currencies the rules' schema allows, the officer's likely ones first. */
export function currenciesOf(document) {
  const all = document.schema('EnglishRules')?.properties?.currency?.enum ?? ['AZN'];
  const first = ['AZN', 'EUR', 'USD', 'GBP', 'TRY'].filter((c) => all.includes(c));
  return [...first, ...all.filter((c) => !first.includes(c))];
}

/** The body to send and the problems, by field, of what the form holds now. */
export function checkAuction(document, form, id) {
  const { rules, local } = buildRules(form, moneyLocale());
  const used = usedFields(form);
  const errors = {};
  for (const [field, found] of Object.entries(local)) errors[field] = localMessage(found);
  const body = { rules };
  if (id.trim()) body.id = id.trim();
  for (const problem of document.check('CreateAuction', body)) {
    const field = problem.pointer === '/id' ? 'id' : fieldOfPointer(problem.pointer.replace(/^\/rules/, ''), form);
    if ((field === 'id' || used.has(field)) && !errors[field]) {
      errors[field] = schemaMessage(problem, fieldKind(field));
    }
  }
  return { body, errors };
}

export default function Page({ staff }) {
  useStylesheet('/app/staff/create.css');
  const [document, setDocument] = useState(null);
  const [failed, setFailed] = useState(false);
  const [form, setForm] = useState(() => newRulesForm());
  const [id, setId] = useState('');
  const state = useCreateState();
  const heading = useRef(null);
  useEffect(() => {
    loadSchema(SCHEMA_URL).then(setDocument, () => setFailed(true));
  }, []);
  const result = useMemo(() => (document ? checkAuction(document, form, id) : null), [document, form, id]);
  useEffect(() => {
    if (state.stage === 'review') heading.current?.focus();
  }, [state.stage]);

  if (failed || !document || !result) {
    return html`<${CreateWaiting} failed=${failed} title=${t('create.auction_title')} />`;
  }

  const errors = shownErrors(state, result.errors);
  const set = (field, value) => {
    state.clearServer(field);
    if (state.status?.kind === 'error') state.setStatus(null);
    setForm((old) => {
      const next = { ...old, [field]: value };
      // A new start keeps the auction's length: the close moves with it.
      const [from, to, start] = [old.starts_at, old.ends_at, value].map(fromLocalInput);
      if (field === 'starts_at' && from !== null && to !== null && start !== null && to > from) {
        next.ends_at = toLocalInput(start + (to - from));
      }
      return next;
    });
  };

  const { review, publish } = reviewAndPublish(state, result, staff, {
    path: '/api/v1/auctions',
    routeOf: (body) => (body.id ? `#/officer/auction/${encodeURIComponent(body.id)}` : null),
    fieldOf: (problem) => {
      const pointer = pointerOfServerField(problem.field ?? null);
      let field = null;
      if (pointer !== null && pointer !== '') field = fieldOfPointer(pointer, form);
      else if (problem.field === 'id' || problem.code === 'auction_exists') field = 'id';
      return field && (field === 'id' || usedFields(form).has(field)) ? field : null;
    },
  });

  const status = state.status
    ? html`<p class=${`create-status ${state.status.kind}`} id="create-status" tabindex="-1" role=${state.status.kind === 'error' ? 'alert' : 'status'}>
        ${state.status.text}
      </p>`
    : html`<p class="create-status" id="create-status" tabindex="-1" role="status"></p>`;

  if (state.stage !== 'edit') {
    const busy = state.stage === 'publishing';
    return html`<main class="staff-main create" id="create-root" data-ready="yes" data-stage=${state.stage}>
      <h1 id="create-review-title" tabindex="-1" ref=${heading}>${t('create.review_title')}</h1>
      <section class="panel review" aria-labelledby="create-review-title">
        <p class="lead">${t('create.review_intro')}</p>
        <${RulesWords} rules=${result.body.rules} id="create-words" />
        <div class="actions">
          <button type="button" id="create-edit" disabled=${busy} onClick=${() => state.setStage('edit')}>
            ${t('create.edit')}
          </button>
          <button type="button" class="primary" id="create-publish" disabled=${busy} onClick=${publish}>
            ${busy ? t('create.publishing') : t('create.publish')}
          </button>
        </div>
      </section>
      ${status}
    </main>`;
  }

  return html`<main class="staff-main create" id="create-root" data-ready="yes" data-stage="edit">
    <h1>${t('create.auction_title')}</h1>
    <p class="lead muted">${t('create.auction_intro')}</p>
    <div class="create-layout">
      <form
        class="create-form"
        id="create-form"
        novalidate
        onSubmit=${review}
        onFocusOut=${(event) => state.touch(event.target?.name)}
      >
        <${RulesFields} form=${form} set=${set} errors=${errors} currencies=${currenciesOf(document)} />
        <details class="group more" id="create-details" open=${Boolean(errors.id)}>
          <summary>${t('ui.details')}</summary>
          <${TextRow}
            name="id"
            label=${`${t('create.field_id')} (${t('create.optional')})`}
            value=${id}
            error=${errors.id}
            hint=${t('create.hint_id')}
            onInput=${(value) => {
              state.clearServer('id');
              setId(value);
            }}
          />
        </details>
        ${status}
        <div class="actions">
          <button type="submit" class="primary" id="create-review">${t('create.review')}</button>
        </div>
      </form>
      <aside class="panel summary" aria-labelledby="create-summary-title">
        <h2 id="create-summary-title">${t('create.summary_title')}</h2>
        <${RulesWords} rules=${result.body.rules} id="create-summary" />
      </aside>
    </div>
  </main>`;
}
