/* The sandbox LMS's auto-posting pages (login initiation, id_token, Deep Linking
 * launch): submit form#autopost on load, as a real LMS does. A static file, so the
 * sandbox's pages also run without inline script. */
(function () {
  "use strict";
  var form = document.getElementById("autopost");
  if (form) { form.submit(); }
}());
