/* The endpoint form, enhanced: body fields only for methods with a body, headers and filters as rows over
   their JSON boxes (which stay the fallback, and what is submitted), and a test button that refuses to
   send the saved configuration while the page holds unsaved edits. */
(function () {
  "use strict";
  var BODY_METHODS = ["POST", "PUT", "PATCH"];

  function element(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function changed(node) { node.dispatchEvent(new Event("input", {bubbles: true})); }

  /* --- body fields by method --------------------------------------------------------------------- */

  function showBodyByMethod(form) {
    var method = form.querySelector("#id_method");
    var rows = form.querySelectorAll(".form-row.field-body_format, .form-row.field-body_template");
    if (!method || !rows.length) { return; }
    var note = element("p", {"class": "help", id: "console-no-body-note"});
    method.parentNode.appendChild(note);
    function apply() {
      var hasBody = BODY_METHODS.indexOf(method.value) !== -1;
      // Hidden, not cleared: switching back finds the body as it was.
      rows.forEach(function (row) { row.hidden = !hasBody; row.classList.add("console-by-method"); });
      note.hidden = hasBody;
      note.textContent = hasBody ? "" : "A " + method.value + " request has no body: the body fields are hidden " +
        "and kept as they are.";
    }
    method.addEventListener("change", apply);
    apply();
  }

  /* --- rows over a JSON box ---------------------------------------------------------------------- */

  /* spec: {read(json) -> list of row values or null, write(rows, sources) -> json, parse(text) -> json (optional),
     columns: [{make(value) -> input, value(input) -> value}]}. sources[i] is the position in what read() was
     given of the row rows[i] started as, undefined for a row added since. */
  function rowEditor(textarea, spec) {
    var rows;
    try { rows = spec.read((spec.parse || JSON.parse)(textarea.value || spec.empty)); } catch (error) { rows = null; }
    if (!rows) { return; }  // Something the rows cannot show: the JSON box stays.
    // The box keeps what the server wrote until a row changes, and gets it back when the rows are as they were.
    var original = textarea.value;
    var unchanged = spec.write(rows, rows.map(function (row, index) { return index; }));
    var editor = element("div", {"class": "console-rows", id: "console-rows-" + textarea.name});
    var table = element("table", {"class": "console-rows-table"});
    var head = element("tr");
    spec.columns.forEach(function (column) { head.appendChild(element("th", {}, column.label)); });
    head.appendChild(element("th"));
    table.appendChild(element("thead")).appendChild(head);
    var body = table.appendChild(element("tbody"));
    var add = element("button", {type: "button", "class": "button console-row-add"}, spec.addLabel);
    var raw = element("button", {type: "button", "class": "console-link console-rows-raw"}, "Edit as JSON");

    function sync() {
      var values = Array.prototype.map.call(body.rows, function (row) {
        return spec.columns.map(function (column, index) { return column.value(row.cells[index].firstChild); });
      });
      var sources = Array.prototype.map.call(body.rows, function (row) { return row.consoleSource; });
      var written = spec.write(values, sources);
      textarea.value = written === unchanged ? original : written;
      changed(textarea);
    }

    function addRow(values, source) {
      var row = body.insertRow();
      row.consoleSource = source;
      spec.columns.forEach(function (column, index) {
        row.insertCell().appendChild(column.make(values ? values[index] : undefined, row));
      });
      var remove = element("button", {type: "button", "class": "console-link console-row-remove",
                                      "aria-label": "Remove this row"}, "Remove");
      remove.addEventListener("click", function () { row.remove(); sync(); });
      row.insertCell().appendChild(remove);
      if (spec.rowAdded) { spec.rowAdded(row); }
      return row;
    }

    rows.forEach(function (values, index) { addRow(values, index); });
    add.addEventListener("click", function () {
      var row = addRow();
      sync();
      row.querySelector("input, select").focus();
    });
    raw.addEventListener("click", function () { editor.remove(); textarea.hidden = false; textarea.focus(); });
    editor.addEventListener("input", sync);
    editor.append(table, add, " ", raw);
    textarea.hidden = true;
    textarea.parentNode.insertBefore(editor, textarea);
  }

  function textInput(label, placeholder) {
    return {
      label: label,
      make: function (value) {
        var input = element("input", {type: "text", "class": "vTextField", "aria-label": label,
                                      placeholder: placeholder || ""});
        input.value = value === undefined ? "" : value;
        return input;
      },
      value: function (input) { return input.value; },
    };
  }

  var HEADERS = {
    empty: "{}",
    addLabel: "Add a header",
    columns: [textInput("Name", "X-Token"), textInput("Value (macros allowed)", "{click_id}")],
    read: function (json) {
      if (!json || typeof json !== "object" || Array.isArray(json)) { return null; }
      var names = Object.keys(json);
      if (names.some(function (name) { return typeof json[name] !== "string"; })) { return null; }
      return names.map(function (name) { return [name, json[name]]; });
    },
    write: function (rows) {
      var headers = {};
      rows.forEach(function (row) { if (row[0].trim()) { headers[row[0].trim()] = row[1]; } });
      return JSON.stringify(headers);
    },
  };

  /* --- filter values keep their JSON type --------------------------------------------------------- */

  /* The server compares values as text in Python: true reads "True" and 5.0 reads "5.0", so a value keeps its
     JSON type, and a number its spelling, unless its row is edited. A number is kept as its source text. */
  function JsonNumber(text) { this.text = text; }
  var NUMBER_MARK = "\u0000json-number:";
  var NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
  JsonNumber.prototype.toJSON = function () { return NUMBER_MARK + this.text; };

  function jsonParse(text) {
    var marked = "", at = 0, end;
    while (at < text.length) {
      if (text[at] === '"') {
        for (end = at + 1; end < text.length && text[end] !== '"'; end += text[end] === "\\" ? 2 : 1) { /* a string */ }
        marked += text.slice(at, end + 1);
        at = end + 1;
      } else if (/[-0-9]/.test(text[at])) {
        var number = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at));
        if (!number) { throw new SyntaxError("not a number at " + at); }
        marked += JSON.stringify(NUMBER_MARK + number[0]);
        at += number[0].length;
      } else {
        marked += text[at];
        at += 1;
      }
    }
    return JSON.parse(marked, function (key, value) {
      return typeof value === "string" && value.indexOf(NUMBER_MARK) === 0 ?
        new JsonNumber(value.slice(NUMBER_MARK.length)) : value;
    });
  }

  function jsonStringify(value) {
    var mark = JSON.stringify(NUMBER_MARK).slice(1, -1).replace(/[\\$]/g, "\\$&");
    return JSON.stringify(value).replace(new RegExp('"' + mark + '([^"]*)"', "g"), "$1");
  }

  function valueText(value) { return value instanceof JsonNumber ? value.text : String(value); }

  // Text typed over a value: as the value it was (or one of a list's) if it reads the same, else a boolean or a
  // number where the value was one, else text, which the server compares as text anyway.
  function typedValue(text, before) {
    var candidates = before === undefined ? [] : [].concat(before);
    var same = candidates.filter(function (item) { return valueText(item) === text; });
    if (same.length) { return same[0]; }
    if (/^(true|false)$/i.test(text) && candidates.some(function (item) { return typeof item === "boolean"; })) {
      return text.toLowerCase() === "true";
    }
    if (NUMBER.test(text) && candidates.some(function (item) { return item instanceof JsonNumber; })) {
      return new JsonNumber(text);
    }
    return text;
  }

  function filtersSpec(textarea) {
    var fields = JSON.parse(textarea.dataset.filterFields || "[]");
    var ops = JSON.parse(textarea.dataset.filterOps || "[]");
    var listOps = ["in", "not_in"], noValueOps = ["exists", "missing"];
    var field = textInput("Field", "params.country");
    var fieldMake = field.make;
    field.make = function (value) {
      var input = fieldMake(value);
      input.setAttribute("list", "console-filter-fields");
      return input;
    };
    var op = {
      label: "Condition",
      make: function (value) {
        var select = element("select", {"aria-label": "Condition"});
        ops.forEach(function (choice) { select.appendChild(element("option", {value: choice[0]}, choice[1])); });
        select.value = value || "eq";
        return select;
      },
      value: function (select) { return select.value; },
    };
    var value = textInput("Value (a list: comma-separated)", "DE, AT");
    var conditions = [], shown = [];  // as read, and their rows as first shown
    var list = element("datalist", {id: "console-filter-fields"});
    fields.forEach(function (name) { list.appendChild(element("option", {value: name})); });
    textarea.parentNode.appendChild(list);
    return {
      empty: "[]",
      addLabel: "Add a condition",
      columns: [field, op, value],
      rowAdded: function (row) {
        var select = row.querySelector("select"), input = row.cells[2].firstChild;
        function apply() { input.disabled = noValueOps.indexOf(select.value) !== -1; }
        select.addEventListener("change", apply);
        apply();
      },
      parse: jsonParse,
      read: function (json) {
        if (!Array.isArray(json)) { return null; }
        var plain = function (item) {
          return item instanceof JsonNumber || ["string", "boolean"].indexOf(typeof item) !== -1;
        };
        var known = ops.map(function (choice) { return choice[0]; });
        var ok = json.every(function (c) {
          return c && typeof c === "object" && typeof c.field === "string" && known.indexOf(c.op) !== -1 &&
            (c.value === undefined || plain(c.value) || (Array.isArray(c.value) && c.value.every(plain)));
        });
        if (!ok) { return null; }
        conditions = json;
        shown = json.map(function (c) {
          return [c.field, c.op, Array.isArray(c.value) ? c.value.map(valueText).join(", ") :
            (c.value === undefined ? "" : valueText(c.value))];
        });
        return shown;
      },
      write: function (rows, sources) {
        var written = rows.map(function (row, index) {
          var source = sources ? sources[index] : undefined;
          var before = source === undefined ? undefined : conditions[source];
          if (before && row.every(function (cell, column) { return cell === shown[source][column]; })) {
            return before;  // a row nobody edited stays exactly as it was
          }
          if (!row[0].trim()) { return null; }
          var condition = {field: row[0].trim(), op: row[1]}, was = before && before.value;
          if (listOps.indexOf(row[1]) !== -1) {
            var items = row[2].split(",").map(function (item) { return item.trim(); }).filter(Boolean);
            condition.value = items.map(function (item) { return typedValue(item, was); });
          } else if (noValueOps.indexOf(row[1]) === -1) {
            condition.value = typedValue(row[2].trim(), was);
          }
          return condition;
        });
        return jsonStringify(written.filter(Boolean));
      },
    };
  }

  /* --- the test button and unsaved edits --------------------------------------------------------- */

  function formState(form) {
    return Array.prototype.map.call(form.elements, function (field) {
      if (!field.name || field.name === "csrfmiddlewaretoken" || /_old$/.test(field.name) ||
          ["submit", "button", "file"].indexOf(field.type) !== -1) { return ""; }
      if (field.type === "checkbox" || field.type === "radio") { return field.name + "=" + field.checked; }
      if (field.multiple) {
        // The admin's two-box selector: what is in the "chosen" box counts, selected or not.
        var options = /_to$/.test(field.id) ? field.options : field.selectedOptions;
        return field.name + "=" + Array.prototype.map.call(options, function (o) { return o.value; }).join(",");
      }
      return field.name + "=" + field.value;
    }).join("\n");
  }

  function guardTest(form) {
    var button = document.getElementById("send-test-postback");
    var sendForm = document.getElementById("console-send-test-form");
    if (!button || !sendForm) { return; }
    var note = document.getElementById("console-test-note");
    var label = button.textContent, noteText = note.textContent;
    var saved = formState(form);
    function check() {
      var unsaved = sendForm.dataset.unsaved === "true" || formState(form) !== saved;
      button.disabled = unsaved;
      button.textContent = unsaved ? button.dataset.unsavedNote : label;
      note.textContent = unsaved ? "The page has unsaved edits; “Save and continue editing” first, then test them."
        : noteText;
    }
    ["input", "change", "click", "dblclick", "keyup"].forEach(function (kind) {
      form.addEventListener(kind, function () { setTimeout(check, 0); });
    });
    check();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("postbackendpoint_form");
    if (!form) { return; }
    showBodyByMethod(form);
    var headers = form.querySelector("textarea#id_headers");
    if (headers) { rowEditor(headers, HEADERS); }
    var filters = form.querySelector("textarea#id_filters");
    if (filters) { rowEditor(filters, filtersSpec(filters)); }
    // After the admin's own widgets are drawn (on load), the form as it stands is the saved one.
    window.addEventListener("load", function () { guardTest(form); });
  });
})();
