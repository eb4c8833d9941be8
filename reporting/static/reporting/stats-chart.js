// Draws the statistics page's daily chart as inline SVG: one line per series,
// from the JSON the page embeds. No library, so the admin needs no CDN.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var COLOURS = ["#417690", "#79aec8", "#2e7d32", "#8e24aa", "#c62828"];
  var WIDTH = 1000, HEIGHT = 260, LEFT = 48, RIGHT = 150, TOP = 12, BOTTOM = 28;

  function node(name, attrs, parent) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { el.setAttribute(key, attrs[key]); });
    if (parent) { parent.appendChild(el); }
    return el;
  }

  function label(parent, x, y, text, anchor) {
    node("text", {x: x, y: y, "text-anchor": anchor || "start"}, parent).textContent = text;
  }

  function draw(container, data) {
    var names = Object.keys(data.series);
    var top = Math.max(1, Math.max.apply(null, names.map(function (n) { return Math.max.apply(null, data.series[n].concat([0])); })));
    var span = Math.max(1, data.days.length - 1);
    var x = function (i) { return LEFT + (WIDTH - LEFT - RIGHT) * i / span; };
    var y = function (v) { return TOP + (HEIGHT - TOP - BOTTOM) * (1 - v / top); };
    var svg = node("svg", {viewBox: "0 0 " + WIDTH + " " + HEIGHT}, container);

    node("line", {class: "axis", x1: LEFT, y1: y(0), x2: WIDTH - RIGHT, y2: y(0)}, svg);
    node("line", {class: "axis", x1: LEFT, y1: TOP, x2: LEFT, y2: y(0)}, svg);
    label(svg, LEFT - 6, y(top) + 4, String(top), "end");
    label(svg, LEFT - 6, y(0) + 4, "0", "end");
    if (data.days.length) {
      label(svg, x(0), HEIGHT - 8, data.days[0], "start");
      label(svg, x(span), HEIGHT - 8, data.days[data.days.length - 1], "end");
    }
    names.forEach(function (name, n) {
      var points = data.series[name].map(function (v, i) { return x(i) + "," + y(v); }).join(" ");
      var line = node("polyline", {points: points, fill: "none", stroke: COLOURS[n % COLOURS.length], "stroke-width": 2}, svg);
      node("title", {}, line).textContent = name;
      node("rect", {x: WIDTH - RIGHT + 12, y: TOP + n * 18, width: 10, height: 10, fill: COLOURS[n % COLOURS.length]}, svg);
      label(svg, WIDTH - RIGHT + 28, TOP + n * 18 + 9, name.replace(/_/g, " "));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var container = document.getElementById("stats-chart");
    var source = document.getElementById("stats-chart-data");
    if (container && source) { draw(container, JSON.parse(source.textContent)); }
  });
})();
