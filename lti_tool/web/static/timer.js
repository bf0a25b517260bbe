/* Exam countdown. The server holds the real deadline and submits at time-out; this only
 * shows the time left and announces 10, 5 and 1 minute(s) to screen readers. */
(function () {
  "use strict";
  var el = document.getElementById("timer");
  var alertEl = document.getElementById("timer-alert");
  if (!el) { return; }
  var end = Date.now() + parseInt(el.getAttribute("data-seconds"), 10) * 1000;
  var announced = {};
  function tick() {
    var left = Math.max(0, Math.round((end - Date.now()) / 1000));
    el.textContent = Math.floor(left / 60) + " min " + (left % 60) + " s";
    [600, 300, 60].forEach(function (mark) {
      if (left <= mark && !announced[mark] && alertEl) {
        announced[mark] = true;
        alertEl.textContent = (mark / 60) + (mark === 60 ? " minute" : " minutes") + " left.";
      }
    });
    if (left === 0) { window.location.reload(); return; }
    setTimeout(tick, 1000);
  }
  tick();
}());
