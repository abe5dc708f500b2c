// Progressive enhancement only: the ballot works without this file.
// 测评: shows "已评 x / y" as the voter marks targets.
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
  var sets = form.querySelectorAll("fieldset.target");
  function update() {
    var done = 0;
    for (var i = 0; i < sets.length; i++) {
      var checked = sets[i].querySelector("input:checked");
      if (checked && checked.value !== "") done++;
    }
    out.textContent = "已评 " + done + " / " + sets.length;
  }
  form.addEventListener("change", update);
  update();
})();
