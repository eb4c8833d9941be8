/* Live preview on the endpoint page: re-render the request from the form as it is edited (nothing is sent).
   The panel's data-state says what is on screen: current, loading (what shows is out of date), invalid
   (the templates' errors, no request) or failed (the preview could not be fetched, no request). */
(function () {
  "use strict";
  var FIELDS = ["partner", "url_template", "method", "body_format", "body_template", "headers", "event_names"];
  var DELAY_MS = 300;

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function chosenEventTypes() {
    // Once the admin's two-box selector is drawn, every option in its "chosen" box counts, selected or not.
    var drawn = document.getElementById("id_event_types_to");
    var select = drawn || document.getElementById("id_event_types");
    if (!select) { return null; }
    return Array.prototype.map.call(drawn ? select.options : select.selectedOptions, function (option) {
      return option.value;
    });
  }

  function part(panel, name) { return panel.querySelector("[data-part=" + name + "]"); }

  function setState(panel, state, status) {
    panel.dataset.state = state;
    panel.setAttribute("aria-busy", state === "loading" ? "true" : "false");
    part(panel, "status").textContent = status || "";
  }

  function showErrors(panel, errors) {
    var box = panel.querySelector(".console-preview-errors");
    box.textContent = "";
    Object.keys(errors).forEach(function (field) {
      var line = document.createElement("div");
      line.textContent = field + ": " + errors[field];
      box.appendChild(line);
    });
    box.hidden = false;
    // The last good request must not stay on screen looking current.
    panel.querySelector(".console-preview-request").hidden = true;
  }

  function showRequest(panel, data) {
    panel.querySelector(".console-preview-errors").hidden = true;
    part(panel, "method").textContent = data.method;
    part(panel, "url").textContent = data.url;
    part(panel, "headers").textContent = Object.keys(data.headers).map(function (name) {
      return name + ": " + data.headers[name];
    }).join("\n");
    part(panel, "body").textContent = data.body;
    panel.querySelector(".console-preview-request").hidden = false;
  }

  function formData() {
    var form = new FormData();
    FIELDS.forEach(function (name) {
      var field = document.getElementById("id_" + name);
      if (field) { form.append(name, field.value); }
    });
    var types = chosenEventTypes();
    if (types) {
      form.append("event_types", "");
      types.forEach(function (value) { form.append("event_types", value); });
    }
    return form;
  }

  function refresh(panel, sequence) {
    fetch(panel.dataset.previewUrl, {method: "POST", body: formData(), headers: {"X-CSRFToken": csrfToken()},
                                     credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (sequence !== panel.sequence) { return; }
        if (data.errors) {
          showErrors(panel, data.errors);
          setState(panel, "invalid", "Not rendered: fix the fields named below.");
        } else {
          showRequest(panel, data);
          setState(panel, "current", "");
        }
        panel.dataset.refreshed = String(Date.now());
      })
      .catch(function (error) {
        if (sequence !== panel.sequence) { return; }
        showErrors(panel, {preview: "could not be updated (" + error.message + "); edit a field to try again."});
        setState(panel, "failed", "");
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("console-preview");
    var form = panel && panel.closest("form");
    if (!form || !document.getElementById("id_url_template")) { return; }
    var timer = null;
    panel.sequence = 0;
    function schedule() {
      panel.sequence += 1;
      setState(panel, "loading", "Updating… (what shows is out of date)");
      clearTimeout(timer);
      var sequence = panel.sequence;
      timer = setTimeout(function () { refresh(panel, sequence); }, DELAY_MS);
    }
    ["input", "change"].forEach(function (kind) {
      form.addEventListener(kind, function (event) {
        if (FIELDS.indexOf(event.target.id.replace(/^id_/, "")) !== -1) { schedule(); }
      });
    });
    // The admin's event type selector moves options between its boxes without a change event.
    form.addEventListener("click", function (event) {
      if (event.target.closest(".field-event_types .selector-chooser, .field-event_types .selector-chooseall, " +
                               ".field-event_types .selector-clearall")) { schedule(); }
    });
    form.addEventListener("dblclick", function (event) {
      if (event.target.closest(".field-event_types select")) { schedule(); }
    });
    // A form shown again with errors, or the add page, differs from what the server rendered: render it now.
    window.addEventListener("load", schedule);
  });
})();
