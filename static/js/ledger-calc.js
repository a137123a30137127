/* The risk calculator's preview (LEC: D = L×E×C; LS: R = L×S).  The server
 * computes the grade again on submit and its result is the one stored. */
(function () {
  "use strict";

  function init() {
    var dataEl = document.getElementById("calc-data");
    var method = document.getElementById("f-method");
    var out = document.getElementById("calc-result");
    if (!dataEl || !method || !out) { return; }
    var calc = JSON.parse(dataEl.textContent);

    function value(id) {
      var el = document.getElementById(id);
      var v = el ? parseFloat(el.value) : NaN;
      return isFinite(v) ? v : null;
    }
    function gradeOf(m, x) {
      var t = m === "LEC" ? calc.lec_thresholds : calc.ls_thresholds;
      if (m === "LEC") { return x > t[0] ? 1 : x > t[1] ? 2 : x > t[2] ? 3 : 4; }
      return x >= t[0] ? 1 : x >= t[1] ? 2 : x >= t[2] ? 3 : 4;
    }
    function show() {
      var m = method.value;
      document.querySelectorAll(".calc").forEach(function (el) {
        el.hidden = !el.classList.contains("calc-" + m);
      });
      var keys = m === "LEC" ? ["lec_L", "lec_E", "lec_C"] : m === "LS" ? ["ls_L", "ls_S"] : [];
      if (!keys.length) { out.textContent = ""; return; }
      var product = 1;
      for (var i = 0; i < keys.length; i++) {
        var v = value("f-" + keys[i]);
        if (v === null) { out.textContent = "请选择各项取值"; return; }
        product *= v;
      }
      product = Math.round(product * 100) / 100;
      var g = gradeOf(m, product);
      var info = calc.grades[g];
      out.textContent = "";
      out.appendChild(document.createTextNode((m === "LEC" ? "D = " : "R = ") + product + " → "));
      var badge = document.createElement("span");
      badge.className = "grade grade-" + g;
      badge.style.background = info[2];
      badge.textContent = info[0] + " · " + info[1];
      out.appendChild(badge);
      out.appendChild(document.createTextNode("（预览，提交后以服务器计算为准）"));
    }
    document.getElementById("calculator").addEventListener("change", show);
    show();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
