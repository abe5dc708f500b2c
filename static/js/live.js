// Live updates for the hall display and the organizer console (ES5: old Android WebViews).
// Server-Sent Events first; polling of state.json when EventSource is missing or keeps
// failing. A count shown never goes backwards: each round's highest count seen is kept.
(function () {
  var root = document.querySelector("[data-live]");
  if (!root) return;
  var base = root.getAttribute("data-live");
  var version = root.getAttribute("data-version");
  var reloadOnState = root.hasAttribute("data-reload-on-state");
  var highest = {};
  var boardTimer = null;
  var lastBoard = 0;

  function setCount(roundId, cast, present) {
    if (highest[roundId] !== undefined && cast < highest[roundId]) return;
    highest[roundId] = cast;
    var nodes = document.querySelectorAll('[data-cast-round="' + roundId + '"]');
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].tagName === "PROGRESS") {
        nodes[i].max = Math.max(present, 1);
        nodes[i].value = cast;
      } else {
        nodes[i].textContent = cast;
      }
    }
    var pres = document.querySelectorAll("[data-present]");
    for (var j = 0; j < pres.length; j++) pres[j].textContent = present;
  }

  function statesDiffer(state) {
    var nodes = document.querySelectorAll("[data-round][data-state]");
    var known = {};
    for (var i = 0; i < nodes.length; i++) known[nodes[i].getAttribute("data-round")] = nodes[i].getAttribute("data-state");
    for (var j = 0; j < state.rounds.length; j++) {
      var r = state.rounds[j];
      if (known[r.id] !== undefined && known[r.id] !== r.state) return true;
    }
    var cur = document.querySelector(".round[data-round]");
    return !!(state.current && cur && cur.getAttribute("data-round") !== String(state.current.id));
  }

  function refreshBoard() {
    var board = document.getElementById("board");
    if (!board) return;
    // At most one fetch a second, however fast ballots arrive in live mode.
    var wait = Math.max(0, 1000 - (Date.now() - lastBoard));
    if (boardTimer) return;
    boardTimer = setTimeout(function () {
      boardTimer = null;
      lastBoard = Date.now();
      var xhr = new XMLHttpRequest();
      xhr.open("GET", base + "/board");
      xhr.onload = function () {
        if (xhr.status === 200) {
          board.innerHTML = xhr.responseText;
          for (var id in highest) if (highest.hasOwnProperty(id)) {
            var el = board.querySelector('[data-cast-round="' + id + '"]');
            if (el && el.tagName !== "PROGRESS" && Number(el.textContent) < highest[id]) el.textContent = highest[id];
          }
        }
      };
      xhr.send();
    }, wait);
  }

  function apply(state) {
    for (var i = 0; i < state.rounds.length; i++) setCount(state.rounds[i].id, state.rounds[i].cast, state.rounds[i].present);
    if (state.version === version) return;
    version = state.version;
    if (reloadOnState) {
      if (statesDiffer(state)) window.location.reload();
      return;
    }
    if (statesDiffer(state) || state.has_result) refreshBoard();
  }

  function poll() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", base + "/state.json");
    xhr.onload = function () {
      if (xhr.status === 200) apply(JSON.parse(xhr.responseText));
    };
    xhr.onloadend = function () { setTimeout(poll, 1000); };
    xhr.send();
  }

  if (!window.EventSource) { poll(); return; }
  var failures = 0;
  var source = new EventSource(base + "/events");
  source.addEventListener("state", function (e) { failures = 0; apply(JSON.parse(e.data)); });
  source.onerror = function () {
    // EventSource reconnects by itself; if it keeps failing (a proxy that buffers), poll.
    failures += 1;
    if (failures >= 5) { source.close(); poll(); }
  };
})();
