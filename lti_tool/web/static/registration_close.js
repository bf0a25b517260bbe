// Dynamic Registration done: ask the LMS to close the registration window or frame
// (1EdTech LTI DR 1.0, section 3.6.3). Sent once on load and again from the button.
(function () {
  function close() {
    var target = window.opener || window.parent;
    if (target && target !== window) {
      target.postMessage({subject: "org.imsglobal.lti.close"}, "*");
    }
  }
  close();
  var button = document.getElementById("close-registration");
  if (button) { button.addEventListener("click", close); }
})();
