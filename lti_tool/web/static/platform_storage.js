/* LTI Client Side postMessage storage (1EdTech): keep the login state and nonce in the
 * platform's storage frame, so a launch works where the LMS iframe blocks cookies.
 * The page supplies its settings in <script id="lti-storage" type="application/json">. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("lti-storage").textContent);
  var TIMEOUT_MS = 1000;  // per try; the platform's frame may still be loading
  var TRIES = 4;

  function storageWindow() {
    if (window.parent === window) { return null; }  // not framed: nothing to talk to
    if (cfg.target === "_parent") { return window.parent; }
    try { return window.parent.frames[cfg.target] || null; } catch (e) { return null; }
  }

  function send(message) {
    var tries = 0;
    function attempt() {
      tries += 1;
      return sendOnce(message).catch(function (error) {
        if (tries >= TRIES || error.message !== "timeout") { throw error; }
        return attempt();
      });
    }
    return attempt();
  }

  function sendOnce(message) {
    return new Promise(function (resolve, reject) {
      var target = storageWindow();
      if (!target) { reject(new Error("no platform storage frame")); return; }
      var id = "cpt-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
      var timer = setTimeout(function () { done(); reject(new Error("timeout")); }, TIMEOUT_MS);
      function done() { window.removeEventListener("message", onMessage); clearTimeout(timer); }
      function onMessage(event) {
        var data = event.data;
        if (event.origin !== cfg.origin || !data || data.message_id !== id) { return; }
        done();
        if (data.error) { reject(new Error(data.error.code || "error")); } else { resolve(data); }
      }
      window.addEventListener("message", onMessage);
      message.message_id = id;
      target.postMessage(message, cfg.origin);
    });
  }

  function status(text) {
    var el = document.getElementById("storage-status");
    if (el) { el.textContent = text; }
  }

  if (cfg.mode === "put") {
    send({subject: "lti.put_data", key: "state_" + cfg.state, value: cfg.state})
      .then(function () {
        return send({subject: "lti.put_data", key: "nonce_" + cfg.nonce, value: cfg.nonce});
      })
      .catch(function () { /* the state cookie may still work; go on either way */ })
      .then(function () { status("Signing you in..."); window.location.replace(cfg.redirect); });
  } else {
    var form = document.getElementById("storage-launch");
    Promise.all([
      send({subject: "lti.get_data", key: "state_" + cfg.state}),
      send({subject: "lti.get_data", key: "nonce_" + cfg.nonce})
    ]).then(function (answers) {
      form.elements.lti_storage_state.value = answers[0].value || "";
      form.elements.lti_storage_nonce.value = answers[1].value || "";
    }).catch(function () { /* submit without: the tool will explain what failed */ })
      .then(function () { form.submit(); });
  }
}());
