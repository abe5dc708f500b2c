// Progressive enhancement only: the ballot works without this file.
// 测评: shows "已评 x / y" as the voter marks targets, keeps each target's summary up to date,
// adds 下一位 buttons to long ballots, and enforces 每票"优秀"不超过 n 个 as you mark.
// 差额票决: shows "已选 x / K" and will not take a (K+1)-th mark (R11); the server still
// refuses an over-selection.
(function () {
  var form = document.getElementById("ballot");
  var out = document.getElementById("progress");
  if (!form || !out) return;
  var seats = form.getAttribute("data-seats");
  if (seats !== null) {
    var k = Number(seats);
    var boxes = form.querySelectorAll('input[type="checkbox"][name="c"]');
    var select = function () {
      var chosen = 0, i;
      for (i = 0; i < boxes.length; i++) if (boxes[i].checked) chosen++;
      for (i = 0; i < boxes.length; i++) {
        boxes[i].disabled = !boxes[i].checked && chosen >= k;
        boxes[i].parentNode.className = "candidate" + (boxes[i].disabled ? " full" : "");
      }
      out.textContent = "已选 " + chosen + " / " + k;
    };
    form.addEventListener("change", select);
    select();
    return;
  }
  var sets = form.querySelectorAll(".target");
  // 每票"优秀"不超过 n 个: once a kind reaches its cap, its other top-level buttons are
  // disabled until one is taken back (the server refuses a ballot over the cap anyway).
  var caps = document.querySelectorAll("[data-cap-kind]");
  function overall(set) {
    return set.querySelectorAll('input[type="radio"][name="' + set.id + '"]');
  }
  function chosen(set) {
    var radios = overall(set);
    for (var i = 0; i < radios.length; i++) if (radios[i].checked) return radios[i];
    return null;
  }
  function update() {
    var done = 0, i, j, c;
    for (i = 0; i < sets.length; i++) {
      c = chosen(sets[i]);
      if (c && c.value !== "") done++;
      var state = sets[i].querySelector("summary .state");
      if (state) {
        state.textContent = c && c.value !== "" ? c.parentNode.textContent : "未评";
        state.className = "state" + (c && c.value !== "" ? "" : " none");
      }
    }
    var text = "已评 " + done + " / " + sets.length;
    for (j = 0; j < caps.length; j++) {
      var kind = caps[j].getAttribute("data-cap-kind");
      var cap = Number(caps[j].getAttribute("data-cap"));
      var tops = 0, mine = [];
      for (i = 0; i < sets.length; i++) {
        if (sets[i].getAttribute("data-kind") !== kind) continue;
        mine.push(sets[i]);
        c = chosen(sets[i]);
        if (c && c.value === "0") tops++;
      }
      for (i = 0; i < mine.length; i++) {
        var top = mine[i].querySelector('input[name="' + mine[i].id + '"][value="0"]');
        if (!top) continue;
        top.disabled = !top.checked && tops >= cap;
        mine[i].className = mine[i].className.replace(/ ?capped/g, "") + (top.disabled ? " capped" : "");
      }
      text += " · " + caps[j].getAttribute("data-cap-label") + " " + tops + " / " + cap;
    }
    out.textContent = text;
  }
  // Long ballots: a 下一位 button closes this target and opens the next one.
  var folds = form.querySelectorAll("details.target");
  for (var k = 0; k < folds.length; k++) {
    (function (here, next) {
      var body = here.querySelector(".body");
      if (!body) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "next";
      button.textContent = next ? "下一位" : "完成，去核对";
      button.addEventListener("click", function () {
        here.open = false;
        if (next) {
          next.open = true;
          next.scrollIntoView();
        } else {
          var submit = form.querySelector('button[value="review"]');
          if (submit) submit.focus();
        }
      });
      body.appendChild(button);
    })(folds[k], folds[k + 1]);
  }
  form.addEventListener("change", update);
  update();
})();
