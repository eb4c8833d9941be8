/* Small SVG charts for the operations dashboard: stacked bars and lines.
 * Each element with data-chart="<json_script id>" and data-kind gets drawn
 * from {"labels": [...], "series": [{"name": ..., "values": [...]}]}. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var WIDTH = 640, HEIGHT = 260, PAD = {top: 12, right: 12, bottom: 48, left: 48};
  var COLORS = ["#417690", "#e08e0b", "#2e9b5b", "#b8406b", "#7b5cc4", "#5a6b78", "#c9a227", "#2a8fbd"];
  var OUTCOME_COLORS = {"Delivered": "#2e9b5b", "Failed": "#c43c35"};

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function colorOf(series, index) { return OUTCOME_COLORS[series.name] || COLORS[index % COLORS.length]; }

  function niceMax(value) {
    if (value <= 4) { return 4; }
    var step = Math.pow(10, Math.floor(Math.log10(value)));
    return Math.ceil(value / step) * step;
  }

  function axes(svg, labels, max, plot) {
    for (var i = 0; i <= 4; i++) {
      var y = plot.y(max * i / 4);
      el("line", {x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, class: "console-grid"}, svg);
      el("text", {x: PAD.left - 6, y: y + 4, "text-anchor": "end", class: "console-tick"}, svg).textContent =
        Math.round(max * i / 4);
    }
    labels.forEach(function (label, index) {
      var x = plot.x(index) + plot.band / 2;
      el("text", {x: x, y: HEIGHT - PAD.bottom + 14, "text-anchor": "end", class: "console-tick",
                  transform: "rotate(-40 " + x + " " + (HEIGHT - PAD.bottom + 14) + ")"}, svg).textContent = label.slice(5);
    });
  }

  function plotFor(labels, max) {
    var band = (WIDTH - PAD.left - PAD.right) / Math.max(labels.length, 1);
    var height = HEIGHT - PAD.top - PAD.bottom;
    return {
      band: band,
      x: function (index) { return PAD.left + index * band; },
      y: function (value) { return PAD.top + height - (value / max) * height; }
    };
  }

  function stackedBars(svg, data) {
    var totals = data.labels.map(function (_, i) {
      return data.series.reduce(function (sum, s) { return sum + s.values[i]; }, 0);
    });
    var max = niceMax(Math.max.apply(null, totals.concat([0])));
    var plot = plotFor(data.labels, max);
    axes(svg, data.labels, max, plot);
    data.labels.forEach(function (label, i) {
      var base = 0;
      data.series.forEach(function (series, s) {
        var value = series.values[i];
        if (!value) { return; }
        var rect = el("rect", {x: plot.x(i) + plot.band * 0.15, width: plot.band * 0.7, y: plot.y(base + value),
                               height: plot.y(base) - plot.y(base + value), fill: colorOf(series, s),
                               class: "console-bar"}, svg);
        el("title", {}, rect).textContent = label + " · " + series.name + ": " + value;
        base += value;
      });
    });
  }

  function lines(svg, data) {
    var all = [].concat.apply([0], data.series.map(function (s) { return s.values; }));
    var max = niceMax(Math.max.apply(null, all));
    var plot = plotFor(data.labels, max);
    axes(svg, data.labels, max, plot);
    data.series.forEach(function (series, s) {
      var points = series.values.map(function (value, i) { return (plot.x(i) + plot.band / 2) + "," + plot.y(value); });
      el("polyline", {points: points.join(" "), fill: "none", stroke: colorOf(series, s), "stroke-width": 2.5,
                      class: "console-line"}, svg);
      series.values.forEach(function (value, i) {
        var dot = el("circle", {cx: plot.x(i) + plot.band / 2, cy: plot.y(value), r: 3.5, fill: colorOf(series, s)}, svg);
        el("title", {}, dot).textContent = data.labels[i] + " · " + series.name + ": " + value;
      });
    });
  }

  function legend(container, data) {
    var list = document.createElement("ul");
    list.className = "console-legend";
    data.series.forEach(function (series, s) {
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.style.background = colorOf(series, s);
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(series.name + " (" + series.values.reduce(function (a, b) { return a + b; }, 0) + ")"));
      list.appendChild(item);
    });
    container.appendChild(list);
  }

  function draw(container) {
    var data = JSON.parse(document.getElementById(container.dataset.chart).textContent);
    var svg = el("svg", {viewBox: "0 0 " + WIDTH + " " + HEIGHT, width: "100%", class: "console-svg"});
    container.appendChild(svg);
    (container.dataset.kind === "lines" ? lines : stackedBars)(svg, data);
    if (!data.series.length) {
      el("text", {x: WIDTH / 2, y: HEIGHT / 2, "text-anchor": "middle", class: "console-tick"}, svg).textContent =
        "No data in these 14 days";
    }
    legend(container, data);
    container.dataset.drawn = "true";
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart]").forEach(draw);
  });
})();
