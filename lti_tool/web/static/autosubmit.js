/* Submit the page's form[data-autosubmit] on load: the Deep Linking return posts the
 * signed response to the LMS without a click. A static file, because the CSP runs no
 * inline script; without JavaScript the form's Continue button does the same. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (form) { form.submit(); }
}());
