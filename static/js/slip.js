// The slip's waiting page follows the meeting: it polls a tiny state every few seconds and
// loads the slip's page when it changed (a round opened, a result was published). Jitter
// keeps a hall of phones from polling in step.
(function () {
  var box = document.querySelector("[data-slip-state]");
  if (!box) return;
  var url = box.getAttribute("data-slip-state");
  var page = box.getAttribute("data-slip-page");
  var key = box.getAttribute("data-key");
  function next() { setTimeout(check, 2500 + Math.random() * 1500); }
  function check() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.onload = function () {
      if (xhr.status === 200) {
        try {
          if (JSON.parse(xhr.responseText).key !== key) { window.location.replace(page); return; }
        } catch (e) { /* a proxy's error page: try again later */ }
      }
      next();
    };
    xhr.onerror = next;
    xhr.send();
  }
  next();
})();
