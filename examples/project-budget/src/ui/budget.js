// The budget page: reads the user token Clockify put in the URL and asks
// the add-on's back end for the hours, sending the token as X-Addon-Token.
(function () {
  "use strict";
  var token = new URLSearchParams(window.location.search).get("auth_token") || "";
  var status = document.getElementById("status");

  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.className = cls;
    td.textContent = text;
    row.appendChild(td);
  }

  function show(report) {
    var body = document.querySelector("#budget tbody");
    body.textContent = "";
    report.projects.forEach(function (p) {
      var row = document.createElement("tr");
      row.dataset.project = p.projectId;
      if (p.overBudget) row.className = "over";
      cell(row, p.name, "name");
      cell(row, p.hours.toFixed(2), "hours");
      cell(row, String(report.budgetHours), "budget");
      cell(row, p.usedPercent.toFixed(0) + "%", "used");
      body.appendChild(row);
    });
    document.getElementById("budget").hidden = false;
    document.getElementById("scope").textContent = report.everyone ? "Everyone's time" : "Your time";
    document.getElementById("unassigned").textContent = "Without a project: " + report.unassignedHours.toFixed(2) + " h";
    status.textContent = "Loaded " + report.projects.length + " projects";
  }

  fetch("budget/data", { headers: { "X-Addon-Token": token } })
    .then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    })
    .then(show)
    .catch(function (e) {
      status.textContent = "Cannot load the budget: " + e.message;
    });
})();
