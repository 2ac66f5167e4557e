// Mercato storefront: small enhancements only; every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A form sent once: its button is disabled until the next page, so a double click
  // does not post twice.
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button[type=submit]")) {
        button.disabled = true;
      }
    });
  }
  // A form shown again with errors: focus its first invalid field (or its message), so
  // a keyboard or screen reader user lands where the problem is.
  const invalid = document.querySelector("[aria-invalid=true]");
  const message = document.querySelector(".form-error");
  if (invalid) {
    invalid.focus();
  } else if (message) {
    message.setAttribute("tabindex", "-1");
    message.focus();
  }
});
