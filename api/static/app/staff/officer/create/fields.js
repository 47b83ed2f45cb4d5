// The form rows of the officer's create forms: one question per row, the label above
// the field, the unit inside it (AZN, %, minutes), a hint or example below, and the
// problem (the schema's or the server's) beside it, tied to the field with
// aria-describedby and aria-invalid so a screen reader reads it with the field.
//
// Every row's input has the id `f-<name>` and its problem the id `f-<name>-error`
// (problems.js focuses a field by that id).

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';

/** The id of field `name`'s input. */
export function fieldId(name) {
  return `f-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

function described(name, hint, error) {
  const ids = [];
  if (error) ids.push(`${fieldId(name)}-error`);
  if (hint) ids.push(`${fieldId(name)}-hint`);
  return ids.length ? ids.join(' ') : null;
}

function Tail({ name, hint, error }) {
  return html`${hint ? html`<p class="hint" id=${`${fieldId(name)}-hint`}>${hint}</p>` : null}
    ${error
      ? html`<p class="field-error" id=${`${fieldId(name)}-error`} data-field=${name}>${error}</p>`
      : null}`;
}

/** A text or number row: `unit` is shown inside the field, at its end. */
export function TextRow({
  name, label, value, onInput, error, hint, unit, placeholder, inputmode, type = 'text',
  autocomplete = 'off', required = false, wide = false,
}) {
  const id = fieldId(name);
  return html`<div class=${`row${wide ? ' wide' : ''}`}>
    <label for=${id}>${label}</label>
    <div class=${`control${unit ? ' with-unit' : ''}`}>
      <input
        id=${id}
        name=${name}
        type=${type}
        value=${value ?? ''}
        inputmode=${inputmode ?? null}
        placeholder=${placeholder ?? null}
        autocomplete=${autocomplete}
        spellcheck="false"
        aria-required=${required ? 'true' : null}
        aria-invalid=${error ? 'true' : 'false'}
        aria-describedby=${described(name, hint, error)}
        onInput=${(event) => onInput(event.currentTarget.value)}
      />
      ${unit ? html`<span class="unit" aria-hidden="true">${unit}</span>` : null}
    </div>
    <${Tail} name=${name} hint=${hint} error=${error} />
  </div>`;
}

/** A choice among a few options: a select ([value, label] pairs). */
export function SelectRow({ name, label, value, options, onInput, error, hint }) {
  const id = fieldId(name);
  return html`<div class="row">
    <label for=${id}>${label}</label>
    <div class="control">
      <select
        id=${id}
        name=${name}
        aria-invalid=${error ? 'true' : 'false'}
        aria-describedby=${described(name, hint, error)}
        onChange=${(event) => onInput(event.currentTarget.value)}
      >
        ${options.map(
          ([option, text]) => html`<option value=${option} selected=${option === value}>${text}</option>`,
        )}
      </select>
    </div>
    <${Tail} name=${name} hint=${hint} error=${error} />
  </div>`;
}

/** Radio buttons in a fieldset, for two or three options read at a glance. */
export function RadioRow({ name, label, value, options, onInput, error, hint }) {
  return html`<fieldset class="row radios" aria-describedby=${described(name, hint, error)}>
    <legend>${label}</legend>
    ${options.map(
      ([option, text], i) => html`<label class="radio">
        <input
          type="radio"
          id=${i === 0 ? fieldId(name) : `${fieldId(name)}-${option}`}
          name=${name}
          value=${option}
          checked=${option === value}
          onChange=${() => onInput(option)}
        />
        <span>${text}</span>
      </label>`,
    )}
    <${Tail} name=${name} hint=${hint} error=${error} />
  </fieldset>`;
}

/** A yes/no switch as a checkbox. */
export function CheckRow({ name, label, checked, onInput, hint }) {
  const id = fieldId(name);
  return html`<div class="row check">
    <label class="radio" for=${id}>
      <input
        id=${id}
        type="checkbox"
        name=${name}
        checked=${checked}
        aria-describedby=${hint ? `${id}-hint` : null}
        onChange=${(event) => onInput(event.currentTarget.checked)}
      />
      <span>${label}</span>
    </label>
    ${hint ? html`<p class="hint" id=${`${id}-hint`}>${hint}</p>` : null}
  </div>`;
}
