// The sandbox LMS closes the registration frame when the tool says it is done
// (1EdTech Dynamic Registration: postMessage {subject: "org.imsglobal.lti.close"}).
window.addEventListener("message", function (event) {
  var frame = document.getElementById("registration-frame");
  if (!frame || event.source !== frame.contentWindow) { return; }
  if (event.data && event.data.subject === "org.imsglobal.lti.close") {
    frame.remove();
    document.getElementById("registration-status").textContent =
      "The tool finished registering and closed its window.";
  }
});
