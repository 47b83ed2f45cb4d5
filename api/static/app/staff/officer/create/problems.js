// Problems in words, beside the field they concern: the schema's (schema.js, before any
// request) and the server's (an RFC 9457 problem naming its `field` or `pointer`), each
// mapped to a form field and said from the catalog. The server's own sentence is kept
// beside the catalog's, so what the server checked (a step of zero, an end before the
// start) reads as the server put it.
//
// Public API:
//   schemaMessage(problem, kind) -> text     a schema problem in words
//   localMessage({key, params}) -> text      a problem found while reading a field
//   serverMessage(problem) -> text           the server's problem in words
//   focusField(name)                         move focus to the field and scroll it in

import { codeText, has, t } from '../../../i18n.js';
import { fieldId } from './fields.js';

/** A schema problem ({keyword, params}) in words; `kind` (rules_form.fieldKind) says
 *  whether a bound is a duration or a time, which are not read as bare numbers. */
export function schemaMessage(problem, kind = 'plain') {
  const { keyword, params } = problem;
  if ((keyword === 'minimum' || keyword === 'maximum') && (kind === 'duration' || kind === 'time')) {
    return t(`create.invalid_${kind}_range`);
  }
  if (keyword === 'pattern' && kind === 'money') return t('create.invalid_amount');
  if (keyword === 'pattern' && kind === 'percent') return t('create.invalid_percent');
  if (keyword === 'pattern' && kind === 'key') return t('create.invalid_public_key');
  const key = `create.invalid_${keyword.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
  return has(key) ? t(key, params ?? {}) : t('create.invalid_other');
}

export function localMessage(found) {
  return has(found.key) ? t(found.key, found.params ?? {}) : t('create.invalid_other');
}

/** The server's problem: the catalog's sentence for its code, then the server's detail
 *  (its words, in English) when it adds something. */
export function serverMessage(problem) {
  const known = problem?.code && has(`code.${problem.code}`) ? codeText(problem.code) : t('create.server_refused');
  const detail = typeof problem?.detail === 'string' ? problem.detail.trim() : '';
  return detail ? t('create.server_says', { text: known, detail }) : known;
}

/** Focus field `name` (its input, or the first control of its group). */
export function focusField(name) {
  const element = document.getElementById(fieldId(name));
  if (!element) return false;
  element.focus({ preventScroll: true });
  element.scrollIntoView({ block: 'center' });
  return true;
}
