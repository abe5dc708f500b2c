// Progressive enhancement only: the ballot works without this file.
// Shows "已评 x / y" as the voter marks targets.
(function () {
  var form = document.getElementById("ballot");
  var out = document.getElementById("progress");
  if (!form || !out) return;
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
