/* Exam countdown. The server holds the real deadline and submits at time-out; this only
 * shows the time left and announces 10, 5 and 1 minute(s) to screen readers - each mark
 * once per attempt, across page loads (every answer loads a page), remembered in the
 * tab's sessionStorage under the attempt's id. */
(function () {
  "use strict";
  var el = document.getElementById("timer");
  var alertEl = document.getElementById("timer-alert");
  if (!el) { return; }
  var end = Date.now() + parseInt(el.getAttribute("data-seconds"), 10) * 1000;
  var storeKey = "cpt-timer-marks:" + (el.getAttribute("data-attempt") || "");
  var marks = [600, 300, 60];
  var announced = {};
  function load() {
    try {
      (JSON.parse(window.sessionStorage.getItem(storeKey)) || []).forEach(function (m) {
        announced[m] = true;
      });
    } catch (e) { /* storage blocked (some iframes): announce within this page only */ }
  }
  function save() {
    try {
      window.sessionStorage.setItem(storeKey, JSON.stringify(Object.keys(announced)));
    } catch (e) { /* see load() */ }
  }
  function tick() {
    var left = Math.max(0, Math.round((end - Date.now()) / 1000));
    el.textContent = Math.floor(left / 60) + " min " + (left % 60) + " s";
    var due = marks.filter(function (m) { return left <= m && !announced[m]; });
    if (due.length) {
      // Only the nearest mark is spoken (a page opened with 4 minutes left says "5
      // minutes", not 10 and then 5); the marks already passed count as said.
      var nearest = Math.min.apply(null, due);
      due.forEach(function (m) { announced[m] = true; });
      save();
      if (alertEl) {
        alertEl.textContent = (nearest / 60) + (nearest === 60 ? " minute" : " minutes") + " left.";
      }
    }
    if (left === 0) { window.location.reload(); return; }
    setTimeout(tick, 1000);
  }
  load();
  tick();
}());
