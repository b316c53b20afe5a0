// The explorer's only script: the map's controls redraw when changed, and empty fields are
// left out of the address (so it stays short and shareable). Every view works without it.
(function () {
  "use strict";
  var form = document.getElementById("state");
  if (!form) return;
  form.addEventListener("submit", function () {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) return;
      var empty = el.value === "" || (el.name.slice(-7) === "fol_not" && el.value === "0")
        || (el.name.slice(-7) === "tf_mode" && !hasTimeframe(el.name.slice(0, -7)));
      if (empty && el.type !== "checkbox" && el.type !== "radio" && !el.multiple) el.disabled = true;
      if (el.name.slice(-8) === "fol_mode" && !form.elements[el.name.slice(0, -8) + "fol_a"].value) el.disabled = true;
      if (el.name === "acts" && el.value === el.max) el.disabled = true;
    });
  });
  function hasTimeframe(prefix) {
    return form.elements[prefix + "tf_from"].value || form.elements[prefix + "tf_to"].value;
  }
  Array.prototype.forEach.call(form.querySelectorAll(".mapcontrols input"), function (el) {
    el.addEventListener("input", function () {
      var out = el.parentNode.querySelector("output");
      if (out) out.textContent = el.value;
    });
    el.addEventListener("change", function () { form.requestSubmit(); });
  });
})();
