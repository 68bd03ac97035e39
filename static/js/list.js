// The shopping list's own-item form: once htmx has added the typed item, empty the box, so
// that a second click on "Add" does not add the same text again. (A static file because the
// CSP allows no inline script; without JavaScript the plain form reloads the page anyway.)
document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.detail.elt;
  if (event.detail.successful && form instanceof HTMLFormElement && form.matches("form.free-text")) {
    form.reset();
  }
});
