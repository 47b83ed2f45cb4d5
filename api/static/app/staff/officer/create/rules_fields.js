// The rows of the auction rules form (rules_form.js holds the data): only the fields the
// chosen format uses, in the order an officer thinks of them (what, money, step, time,
// closing, scoring). Shared by the auction form and a tender's hand-off template.
//
// RulesFields({form, set, errors, currencies, template, prefix}): `set(name, value)`
// changes one field, `errors[name]` is the text shown beside it, `prefix` keeps the ids
// of a template apart from the page's other fields.

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { formatLocale, t } from '../../../i18n.js';
import { zoneLabel } from '../../../time.js';
import { CheckRow, RadioRow, SelectRow, TextRow } from './fields.js';
import { FORMATS, fromLocalInput, usedFields } from './rules_form.js';

function zoneHint(form) {
  const ms = fromLocalInput(form.starts_at) ?? Date.now();
  return t('create.hint_zone', { zone: zoneLabel(ms * 1000, formatLocale()) });
}

function startLabel(form) {
  if (form.format === 'english') return t('create.field_start_price_sale');
  if (form.format === 'dutch') return t('create.field_clock_start');
  if (form.format === 'sealed' && form.side === 'sale') return t('create.field_min_bid');
  return t('create.field_budget');
}

export function RulesFields({ form, set, errors, currencies, template = false, prefix = '' }) {
  const used = usedFields(form, { template });
  const name = (field) => `${prefix}${field}`;
  const row = (field, props) => ({
    name: name(field),
    value: form[field],
    error: errors[name(field)],
    onInput: (value) => set(field, value),
    ...props,
  });
  const currency = form.currency;
  const money = (field, props) =>
    html`<${TextRow} ...${row(field, { unit: currency, inputmode: 'decimal', ...props })} />`;
  const optional = t('create.optional');
  return html`
    ${template
      ? null
      : html`<fieldset class="group">
          <legend>${t('create.group_what')}</legend>
          <${SelectRow}
            ...${row('format', {
              label: t('create.field_format'),
              options: FORMATS.map((f) => [f, t(`format.${f}`)]),
              hint: t(`create.hint_format_${form.format}`),
            })}
          />
          ${used.has('side')
            ? html`<${RadioRow}
                ...${row('side', {
                  label: t('create.field_side'),
                  options: [
                    ['procurement', t('create.side_procurement')],
                    ['sale', t('create.side_sale')],
                  ],
                })}
              />`
            : null}
          ${used.has('currency')
            ? html`<${SelectRow}
                ...${row('currency', {
                  label: t('create.field_currency'),
                  options: currencies.map((c) => [c, c]),
                })}
              />`
            : null}
        </fieldset>`}

    <fieldset class="group">
      <legend>${t('create.group_money')}</legend>
      ${used.has('start_price')
        ? money('start_price', {
            label: `${startLabel(form)}${form.format === 'sealed' || form.format === 'multiround' ? ` (${optional})` : ''}`,
            placeholder: t('create.example_amount'),
            required: !(form.format === 'sealed' || form.format === 'multiround'),
          })
        : null}
      ${used.has('reserve_price')
        ? money('reserve_price', {
            label: `${t('create.field_reserve')} (${optional})`,
            hint: t(form.side === 'procurement' && form.format === 'sealed' ? 'create.hint_reserve_procurement' : 'create.hint_reserve_sale'),
          })
        : null}
      ${used.has('limit_price')
        ? money('limit_price', {
            label: t(form.side === 'sale' ? 'create.field_floor' : 'create.field_ceiling'),
            required: true,
          })
        : null}
      ${used.has('step_kind')
        ? html`<${RadioRow}
            ...${row('step_kind', {
              label: t('create.field_step_kind'),
              options: [
                ['amount', t('create.step_amount')],
                ['percent', t('create.step_percent')],
              ],
            })}
          />`
        : null}
      ${used.has('step_amount')
        ? money('step_amount', {
            label: form.format === 'dutch' ? t('create.field_clock_step') : t('create.field_step'),
            placeholder: t('create.example_step'),
            required: true,
          })
        : null}
      ${used.has('step_percent')
        ? html`<${TextRow}
            ...${row('step_percent', {
              label: t('create.field_step_percent'),
              unit: '%',
              inputmode: 'decimal',
              placeholder: '0.5',
              hint: t('create.hint_step_percent'),
              required: true,
            })}
          />`
        : null}
      ${used.has('improvement')
        ? html`<${RadioRow}
            ...${row('improvement', {
              label: t('create.field_improvement'),
              options: [
                ['beat_best', t('create.improvement_beat_best')],
                ['beat_own', t('create.improvement_beat_own')],
              ],
            })}
          />`
        : null}
      ${used.has('pricing')
        ? html`<${RadioRow}
            ...${row('pricing', {
              label: t('create.field_pricing'),
              options: [
                ['first_price', t('create.pricing_first_price')],
                ['second_price', t('create.pricing_second_price')],
              ],
            })}
          />`
        : null}
      ${used.has('max_amount')
        ? money('max_amount', { label: `${t('create.field_max_amount')} (${optional})`, hint: t('create.hint_max_amount') })
        : null}
    </fieldset>

    <fieldset class="group">
      <legend>${t('create.group_time')}</legend>
      ${used.has('starts_at')
        ? html`<${TextRow} ...${row('starts_at', { label: t('create.field_starts_at'), type: 'datetime-local', hint: zoneHint(form), required: true })} />`
        : null}
      ${used.has('ends_at')
        ? html`<${TextRow} ...${row('ends_at', { label: t('create.field_ends_at'), type: 'datetime-local', required: true })} />`
        : null}
      ${used.has('interval')
        ? html`<${TextRow} ...${row('interval', { label: t('create.field_interval'), unit: t('create.unit_seconds'), inputmode: 'decimal', required: true })} />`
        : null}
      ${used.has('rounds')
        ? html`<${TextRow} ...${row('rounds', { label: t('create.field_rounds'), inputmode: 'numeric', placeholder: '3' })} />`
        : null}
      ${used.has('turn')
        ? html`<${TextRow} ...${row('turn', { label: t('create.field_turn'), unit: t('create.unit_seconds'), inputmode: 'decimal', required: !template })} />`
        : null}
      ${used.has('pause')
        ? html`<${TextRow} ...${row('pause', { label: t('create.field_pause'), unit: t('create.unit_seconds'), inputmode: 'decimal' })} />`
        : null}
      ${used.has('soft_close')
        ? html`<${CheckRow}
            name=${name('soft_close')}
            label=${t('create.field_soft_close')}
            checked=${form.soft_close}
            hint=${t('create.hint_soft_close')}
            onInput=${(value) => set('soft_close', value)}
          />`
        : null}
      ${used.has('window')
        ? html`<${TextRow} ...${row('window', { label: t('create.field_window'), unit: t('create.unit_minutes'), inputmode: 'decimal', required: true })} />`
        : null}
      ${used.has('extension')
        ? html`<${TextRow} ...${row('extension', { label: t('create.field_extension'), unit: t('create.unit_minutes'), inputmode: 'decimal', required: true })} />`
        : null}
      ${used.has('hard_close')
        ? html`<${TextRow} ...${row('hard_close', { label: `${t('create.field_hard_close')} (${optional})`, type: 'datetime-local', hint: t('create.hint_hard_close') })} />`
        : null}
    </fieldset>

    ${used.has('scoring') || used.has('allow_proxy')
      ? html`<fieldset class="group">
          <legend>${t('create.group_ranking')}</legend>
          ${used.has('scoring')
            ? html`<${RadioRow}
                ...${row('scoring', {
                  label: t('create.field_scoring'),
                  options: [
                    ['none', t('create.scoring_none')],
                    ['meat', t('create.scoring_meat')],
                    ['lcc', t('create.scoring_lcc')],
                  ],
                  hint: form.scoring === 'none' ? null : t(`create.hint_scoring_${form.scoring}`),
                })}
              />`
            : null}
          ${used.has('allow_proxy')
            ? html`<${CheckRow}
                name=${name('allow_proxy')}
                label=${t('create.field_allow_proxy')}
                checked=${form.allow_proxy}
                hint=${t('create.hint_allow_proxy')}
                onInput=${(value) => set('allow_proxy', value)}
              />`
            : null}
        </fieldset>`
      : null}
  `;
}
