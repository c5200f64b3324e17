// ptmscope serve: the only script (the CSP allows scripts from this server only, none inline).
// Everything works without it; it only submits the search form when the sort order changes.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select.autosubmit")) {
    select.addEventListener("change", () => select.form && select.form.submit());
  }
});
