// Draws the statistics page's two daily charts (events, postbacks) with the vendored Chart.js,
// from the JSON the page embeds: value axes with ticks, one tick per day (thinned when crowded)
// and a tooltip with every series' value for the day under the pointer.
(function () {
  "use strict";
  var COLOURS = ["#417690", "#e08a00", "#2e7d32", "#8e24aa", "#c62828"];
  var DELIVERY_COLOURS = ["#2e7d32", "#c62828"];
  var NUMBER = new Intl.NumberFormat("en");

  function draw(canvas, days, series, colours) {
    var chart = new window.Chart(canvas, {
      type: "line",
      data: {
        labels: days,
        datasets: series.map(function (one, n) {
          return {
            label: one.label, data: one.values, borderColor: colours[n % colours.length],
            backgroundColor: colours[n % colours.length], borderWidth: 2, pointRadius: days.length > 45 ? 0 : 3,
            tension: 0
          };
        })
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: {mode: "index", intersect: false},
        scales: {
          x: {ticks: {autoSkip: true, maxRotation: 0, maxTicksLimit: 12}},
          y: {beginAtZero: true, ticks: {precision: 0, callback: function (value) { return NUMBER.format(value); }}}
        },
        plugins: {
          legend: {position: "bottom"},
          tooltip: {callbacks: {label: function (item) { return item.dataset.label + ": " + NUMBER.format(item.parsed.y); }}}
        }
      }
    });
    canvas.dataset.drawn = "true";
    return chart;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("stats-chart-data");
    if (!source || !window.Chart) { return; }
    var data = JSON.parse(source.textContent);
    draw(document.getElementById("stats-chart-events"), data.days, data.events, COLOURS);
    draw(document.getElementById("stats-chart-deliveries"), data.days, data.deliveries, DELIVERY_COLOURS);
  });
})();
