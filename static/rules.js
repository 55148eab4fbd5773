// The rules editor's live check: as you type, the draft is checked (never
// saved) and its problems are listed under the editor; clicking one moves the
// cursor to its line. Without this script the page works the same on submit.
(function () {
  "use strict";
  var area = document.getElementById("rules");
  var out = document.getElementById("live-check");
  var form = document.getElementById("rules-form");
  if (!area || !out || !form) return;
  var token = form.querySelector("input[name=csrf]").value;
  var timer = null;
  var sent = null;

  function goToLine(n) {
    var lines = area.value.split("\n");
    var at = 0;
    for (var i = 0; i < n - 1 && i < lines.length; i++) at += lines[i].length + 1;
    area.focus();
    area.setSelectionRange(at, at + (lines[n - 1] || "").length);
  }

  function show(result) {
    out.textContent = "";
    var all = result.errors.map(function (e) { return ["error", e]; })
      .concat(result.warnings.map(function (w) { return ["warning", w]; }));
    if (!all.length) {
      out.className = "small muted";
      out.textContent = area.value.trim() ? "No problems found." : "";
      return;
    }
    out.className = "small";
    var list = document.createElement("ul");
    list.className = "live-problems";
    all.forEach(function (pair) {
      var issue = pair[1];
      var item = document.createElement("li");
      item.className = "note " + pair[0];
      var where = [issue.role, issue.key].filter(function (p) { return p; }).join(".");
      var text = (issue.line ? "line " + issue.line + ": " : "") + (where ? where + ": " : "") + issue.message;
      if (issue.line) {
        var link = document.createElement("a");
        link.href = "#rules";
        link.textContent = text;
        link.addEventListener("click", function (ev) { ev.preventDefault(); goToLine(issue.line); });
        item.appendChild(link);
      } else {
        item.textContent = text;
      }
      list.appendChild(item);
    });
    out.appendChild(list);
  }

  function check() {
    var text = area.value;
    if (text === sent) return;
    sent = text;
    fetch(area.dataset.check, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify({ rules: text }),
      credentials: "same-origin"
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (result) { if (result && area.value === text) show(result); })
      .catch(function () { /* offline: the server checks again on save */ });
  }

  area.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  });
  document.querySelectorAll(".annotated .note[data-line]").forEach(function (note) {
    note.addEventListener("click", function () { goToLine(parseInt(note.dataset.line, 10)); });
  });
})();
