// ptmscope serve: the only script (the CSP allows scripts from this server only, none inline).
// Everything works without it; it only submits the search form when the sort order changes.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select.autosubmit")) {
    select.addEventListener("change", () => select.form && select.form.submit());
  }
});

// -- select: one more empty field for a list requirement (framework, language, dataset) once the last is filled.
// Without the script the form has one empty field more than the values given; submitting shows another.
document.addEventListener("DOMContentLoaded", () => {
  for (const group of document.querySelectorAll(".select-form .repeat")) {
    group.addEventListener("input", () => {
      const fields = group.querySelectorAll("input");
      const last = fields[fields.length - 1];
      if (last && last.value.trim() !== "") {
        const more = last.cloneNode(false);
        more.value = "";
        more.removeAttribute("placeholder");
        group.appendChild(more);
      }
    });
  }
});
