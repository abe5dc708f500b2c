// The progress page of a background job (the slip sheet PDF, B2), ES5 for old browsers: polls
// the job's state twice a second and moves the bar; once the job is done or failed, reloads
// the page, which then offers the download or says what went wrong. Without JavaScript the
// page refreshes itself (<noscript> meta refresh) to the same effect.
(function () {
  var box = document.querySelector("[data-job-state]");
  if (!box || box.getAttribute("data-state") !== "running") return;
  var url = box.getAttribute("data-job-state");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-job-text]");
  var shown = -1;
  var failures = 0;

  function show(state) {
    if (state.done < shown) return; // never move the bar back
    shown = state.done;
    bar.max = Math.max(state.total, 1);
    bar.value = state.done;
    bar.textContent = state.percent + "%";
    text.textContent = "正在排版：已完成 " + state.done + " / " + state.total + " 张（" + state.percent + "%）";
  }

  function retry() {
    // Three misses in a row (logged out, job gone, server restarting): let the page say why.
    failures += 1;
    if (failures >= 3) { window.location.reload(); return; }
    setTimeout(poll, 2000);
  }

  function poll() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      var state = null;
      if (xhr.status === 200) {
        try { state = JSON.parse(xhr.responseText); } catch (e) { state = null; }
      }
      if (!state || typeof state.done !== "number") { retry(); return; }
      failures = 0;
      if (state.state !== "running") { window.location.reload(); return; }
      show(state);
      setTimeout(poll, 500);
    };
    xhr.onerror = retry;
    xhr.send();
  }

  setTimeout(poll, 300);
})();
