// The export page: polls the job's status once a second and moves the bar, until it is ready or failed.
(function () {
  "use strict";
  const root = document.getElementById("console-export");
  if (!root) return;
  const bar = document.getElementById("console-export-bar");
  const fields = {
    state: document.getElementById("console-export-state"),
    rows: document.getElementById("console-export-rows"),
    total: document.getElementById("console-export-total"),
    error: document.getElementById("console-export-error"),
    download: document.getElementById("console-export-download"),
  };
  const number = new Intl.NumberFormat();

  function show(status) {
    bar.value = status.percent;
    fields.state.textContent = status.label;
    fields.rows.textContent = number.format(status.rows_done);
    fields.total.textContent = status.rows_total === null ? "?" : number.format(status.rows_total);
    fields.error.textContent = status.error;
    fields.error.hidden = !status.error;
    if (status.download_url) {
      fields.download.href = status.download_url;
      fields.download.hidden = false;
    }
    return status.status === "queued" || status.status === "running";
  }

  async function poll() {
    try {
      const response = await fetch(root.dataset.statusUrl, {headers: {Accept: "application/json"}});
      if (response.ok && !show(await response.json())) return;
    } catch (error) {
      // A dropped request is tried again on the next tick.
    }
    window.setTimeout(poll, 1000);
  }
  poll();
})();
