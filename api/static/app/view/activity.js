// My requests, each with its answer in words; a confirmed one names the event it made
// and where that event put me (live.js notePlace).

import { html } from '/vendor/htm@3.1.1/htm-preact.mjs';
import { formatLocale, t } from '../i18n.js';
import { formatTime, zoneLabel } from '../time.js';
import { money, requestText } from './common.js';

export function Activity({ state }) {
  const currency = state.rules?.currency;
  const locale = formatLocale();
  return html`<section class="panel" aria-labelledby="activity-title">
    <h2 id="activity-title">${t('ui.my_activity')}</h2>
    <div aria-live="polite" id="activity">
      ${state.requests.length
        ? html`<table>
            <thead>
              <tr>
                <th scope="col">${t('ui.time_column')}</th>
                <th scope="col" class="amount">${t('ui.offer_column')}</th>
                <th scope="col">${t('ui.status_column')}</th>
              </tr>
            </thead>
            <tbody>
              ${state.requests.map(
                (request) => html`<tr data-status=${request.status} data-amount=${request.amount}>
                  <td class="num" title=${request.at ? zoneLabel(request.at, locale) : ''}>
                    ${request.at ? formatTime(request.at, locale) : ''}
                  </td>
                  <td class="amount num">
                    ${request.kind === 'pass'
                      ? t('multiround.pass_request')
                      : request.kind === 'proxy'
                        ? t('proxy.limit_request', { amount: money(request.minor, currency) })
                        : request.minor === null
                          ? t('sealed.withdrawal')
                          : money(request.minor, currency)}
                  </td>
                  <td class=${`status-${request.status}`}>
                    ${requestText(request, currency)}
                    ${request.seq && request.status === 'confirmed'
                      ? html`<span class="after" data-seq=${request.seq}>
                          ${request.after
                            ? t('history.event_place', {
                                seq: request.seq,
                                place: t('ui.rank_of', request.after),
                              })
                            : t('history.event', { seq: request.seq })}
                        </span>`
                      : null}
                  </td>
                </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="muted">${t('ui.no_requests')}</p>`}
    </div>
  </section>`;
}

