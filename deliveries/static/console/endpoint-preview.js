/* Live preview on the endpoint page: re-render the request as the templates are edited (nothing is sent). */
(function () {
  "use strict";
  var FIELDS = ["url_template", "method", "body_format", "body_template", "headers", "event_names"];
  var DELAY_MS = 300;

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function show(panel, data) {
    var errors = panel.querySelector(".console-preview-errors");
    var part = function (name) { return panel.querySelector("[data-part=" + name + "]"); };
    errors.hidden = !data.errors;
    errors.textContent = "";
    if (data.errors) {
      Object.keys(data.errors).forEach(function (field) {
        var line = document.createElement("div");
        line.textContent = field + ": " + data.errors[field];
        errors.appendChild(line);
      });
      return;
    }
    part("method").textContent = data.method;
    part("url").textContent = data.url;
    part("headers").textContent = Object.keys(data.headers).map(function (name) {
      return name + ": " + data.headers[name];
    }).join("\n");
    part("body").textContent = data.body;
  }

  function refresh(panel) {
    var form = new FormData();
    FIELDS.forEach(function (name) {
      var field = document.getElementById("id_" + name);
      if (field) { form.append(name, field.value); }
    });
    fetch(panel.dataset.previewUrl, {method: "POST", body: form, headers: {"X-CSRFToken": csrfToken()},
                                     credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (data) { show(panel, data); panel.dataset.refreshed = String(Date.now()); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("console-preview");
    if (!panel) { return; }
    var timer = null;
    FIELDS.forEach(function (name) {
      var field = document.getElementById("id_" + name);
      if (!field) { return; }
      ["input", "change"].forEach(function (kind) {
        field.addEventListener(kind, function () {
          clearTimeout(timer);
          timer = setTimeout(function () { refresh(panel); }, DELAY_MS);
        });
      });
    });
  });
})();
