// Stylesheets of the staff pages, each loaded once by the page that needs it:
// useStylesheet('/app/staff/create.css') adds <link rel="stylesheet"> to <head> the first
// time and never removes it (the CSP allows this origin's stylesheets only).

const loaded = new Set();

/** Add the stylesheet at `href` to the document once (no-op after). O(1). */
export function addStylesheet(href) {
  if (loaded.has(href)) return;
  loaded.add(href);
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = href;
  document.head.append(link);
}

/** The same, called from a page's component as it renders (idempotent). */
export function useStylesheet(href) {
  addStylesheet(href);
}
