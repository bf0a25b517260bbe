/* The sandbox LMS honours lti.frameResize as Canvas does: the tool's frame (and only it)
 * may ask for a height, as a JSON string or an object; the height is clamped. */
(function () {
  "use strict";
  var frame = document.querySelector("iframe[name=tool_frame]");
  if (!frame) { return; }
  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow) { return; }
    var data = event.data;
    if (typeof data === "string") {
      try { data = JSON.parse(data); } catch (e) { return; }
    }
    if (!data || data.subject !== "lti.frameResize") { return; }
    var height = parseInt(data.height, 10);
    if (!(height > 0)) { return; }
    frame.style.boxSizing = "content-box";  /* the height asked for is the page inside */
    frame.style.height = Math.min(Math.max(height, 200), 20000) + "px";
  });
}());
