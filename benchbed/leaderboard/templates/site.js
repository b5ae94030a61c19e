(function () {
  "use strict";
  // Sorting and filtering for the leaderboard tables. Cells carry their sort value in data-sort
  // ("" = no value: always listed last); rows carry data-recipe and a lower-cased data-search text.
  function setup(table) {
    var body = table.tBodies[0];
    var none = table.querySelector("tbody.none");
    var rows = Array.prototype.slice.call(body.rows);
    var order = new Map();
    rows.forEach(function (row, i) { order.set(row, i); });
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);

    function value(row, idx) {
      var cell = row.cells[idx];
      return cell ? cell.getAttribute("data-sort") || "" : "";
    }

    function sortBy(idx, type, dir) {
      var sign = dir === "ascending" ? 1 : -1;
      rows.sort(function (a, b) {
        var va = value(a, idx), vb = value(b, idx);
        if (va === "" || vb === "") {
          if (va === vb) { return order.get(a) - order.get(b); }
          return va === "" ? 1 : -1;
        }
        var c = type === "num" ? Number(va) - Number(vb) : va.localeCompare(vb);
        if (c !== c) { c = 0; }
        return c !== 0 ? sign * c : order.get(a) - order.get(b);
      });
      rows.forEach(function (row) { body.appendChild(row); });
      headers.forEach(function (th, i) {
        if (i === idx) { th.setAttribute("aria-sort", dir); } else { th.removeAttribute("aria-sort"); }
      });
    }

    headers.forEach(function (th, idx) {
      var button = th.querySelector("button.sort");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var current = th.getAttribute("aria-sort");
        var dir = current === "descending" ? "ascending"
          : current === "ascending" ? "descending" : (th.getAttribute("data-first") || "ascending");
        sortBy(idx, th.getAttribute("data-type") || "text", dir);
      });
    });

    var controls = document.querySelector('.controls[data-table="' + table.id + '"]');
    if (!controls) { return; }
    var filter = controls.querySelector("input.filter");
    var recipe = controls.querySelector("select.recipe");
    var count = controls.querySelector(".count");

    function apply() {
      var words = (filter ? filter.value : "").toLowerCase().split(/\s+/).filter(Boolean);
      var want = recipe ? recipe.value : "";
      var shown = 0;
      rows.forEach(function (row) {
        var text = row.getAttribute("data-search") || "";
        var ok = (!want || row.getAttribute("data-recipe") === want) &&
          words.every(function (w) { return text.indexOf(w) !== -1; });
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      if (none) { none.hidden = shown !== 0; }
      if (count) { count.textContent = shown + " of " + rows.length + " models"; }
    }
    if (filter) { filter.addEventListener("input", apply); }
    if (recipe) { recipe.addEventListener("change", apply); }

    // Column groups: the table opens compact (the headline columns); a group's box shows the rest of
    // its columns (cells with class "more"), "all columns" ticks every group.
    var boxes = Array.prototype.slice.call(controls.querySelectorAll("input[data-group]"));
    var all = boxes.filter(function (b) { return b.getAttribute("data-group") === "all"; })[0];
    var groups = boxes.filter(function (b) { return b !== all; });
    function showGroup(box) {
      var cells = table.querySelectorAll(".g-" + box.getAttribute("data-group") + ".more");
      Array.prototype.forEach.call(cells, function (cell) { cell.hidden = !box.checked; });
    }
    groups.forEach(function (box) {
      box.addEventListener("change", function () {
        showGroup(box);
        if (all) { all.checked = groups.every(function (b) { return b.checked; }); }
      });
    });
    if (all) {
      all.addEventListener("change", function () {
        groups.forEach(function (box) { box.checked = all.checked; showGroup(box); });
      });
    }
    groups.forEach(showGroup);  // a browser may restore ticked boxes on "back": follow them
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.lb"), setup);
}());
