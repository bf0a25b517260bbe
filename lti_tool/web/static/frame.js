/* Inside an LMS iframe, ask the LMS to make the frame as tall as the page (Canvas's
 * lti.frameResize message, which other LMSs ignore), so the page scrolls with the course
 * rather than inside a fixed box. Only a height is sent: nothing a listening page could
 * misuse, so any parent may hear it. */
(function () {
  "use strict";
  if (window.parent === window) { return; }
  var last = 0;
  function send() {
    var height = Math.ceil(document.documentElement.scrollHeight);
    if (Math.abs(height - last) < 2) { return; }
    last = height;
    try {
      window.parent.postMessage(JSON.stringify({ subject: "lti.frameResize", height: height }), "*");
    } catch (e) { /* a parent that refuses messages keeps its own frame size */ }
  }
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(send).observe(document.documentElement);
  }
  window.addEventListener("load", send);
  send();
}());
