/* Question player: after each answer the page loads again; put keyboard and screen-reader
 * focus on the question's heading so the student hears which question this is and can
 * Tab straight into its options (WCAG 2.4.3). Works without it: plain forms. */
(function () {
  "use strict";
  var heading = document.getElementById("question-heading");
  if (heading && typeof heading.focus === "function") {
    heading.focus({ preventScroll: false });
  }
}());
