// Conveniences only: every page works without this file.
// - the runs list gets a "select all" box and its Compare button says how many are ticked.
(function () {
  "use strict";
  function ready() {
    var form = document.querySelector("form.compare-form");
    if (!form) {
      return;
    }
    var boxes = Array.prototype.slice.call(
      form.querySelectorAll('input[name="run"]:not([disabled])')
    );
    var all = form.querySelector("input.select-all");
    var button = form.querySelector(".compare-button");
    function update() {
      var ticked = boxes.filter(function (box) { return box.checked; }).length;
      if (button) {
        button.disabled = ticked < 2;
        var idle = button.getAttribute("data-idle") || "Compare selected runs";
        var count = button.getAttribute("data-count") || "Compare {n} runs";
        button.textContent = ticked < 2 ? idle : count.replace("{n}", String(ticked));
      }
      if (all) {
        all.checked = ticked > 0 && ticked === boxes.length;
        all.indeterminate = ticked > 0 && ticked < boxes.length;
      }
    }
    if (all) {
      all.hidden = false;
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
        update();
      });
    }
    boxes.forEach(function (box) { box.addEventListener("change", update); });
    update();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
