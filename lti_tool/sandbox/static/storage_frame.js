/* The sandbox platform's side of LTI Client Side postMessage storage: it keeps values per
 * tool origin (one tool cannot read another's) for as long as the course page is open. */
(function () {
  "use strict";
  var store = {};
  var SUBJECTS = ["lti.capabilities", "lti.put_data", "lti.get_data"];

  function reply(event, body) {
    event.source.postMessage(body, event.origin);
  }

  window.addEventListener("message", function (event) {
    var data = event.data || {};
    if (typeof data !== "object" || SUBJECTS.indexOf(data.subject) < 0) { return; }
    var bucket = store[event.origin] = store[event.origin] || {};
    var base = {subject: data.subject + ".response", message_id: data.message_id};
    if (data.subject === "lti.capabilities") {
      base.supported_messages = [{subject: "lti.put_data"}, {subject: "lti.get_data"}];
      reply(event, base);
    } else if (!data.key) {
      base.error = {code: "bad_request", message: "key is required"};
      reply(event, base);
    } else if (data.subject === "lti.put_data") {
      bucket[data.key] = data.value;
      base.key = data.key; base.value = data.value;
      reply(event, base);
    } else {
      base.key = data.key;
      if (Object.prototype.hasOwnProperty.call(bucket, data.key)) {
        base.value = bucket[data.key];
      } else {
        base.error = {code: "not_found", message: "no such key"};
      }
      reply(event, base);
    }
  });
}());
