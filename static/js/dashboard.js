// Dashboard charts: the figures come from data-chart attributes (the CSP forbids inline scripts).
(function () {
  if (typeof Chart === "undefined") return; // the tables beside the charts still carry every figure
  const read = (id) => {
    const canvas = document.getElementById(id);
    return canvas ? [canvas, JSON.parse(canvas.dataset.chart)] : [null, null];
  };

  const [trendCanvas, trend] = read("trend-chart");
  if (trendCanvas) {
    new Chart(trendCanvas, {
      type: "line",
      data: {
        labels: trend.labels,
        datasets: [
          {label: "Referred", data: trend.referred, borderColor: "#0d6efd", backgroundColor: "#0d6efd33", fill: true, tension: 0},
          {label: "Qualified", data: trend.qualified, borderColor: "#198754", backgroundColor: "#19875433", fill: true, tension: 0},
        ],
      },
      options: {animation: false, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}},
    });
  }

  const [funnelCanvas, funnel] = read("funnel-chart");
  if (funnelCanvas) {
    new Chart(funnelCanvas, {
      type: "bar",
      data: {labels: funnel.labels, datasets: [{label: "Referrals", data: funnel.values,
        backgroundColor: ["#0d6efd", "#6610f2", "#198754", "#20c997"]}]},
      options: {animation: false, indexAxis: "y", plugins: {legend: {display: false}},
        scales: {x: {beginAtZero: true, ticks: {precision: 0}}}},
    });
  }
})();

// The Period box and the dates agree: a preset clears the dates, a date makes the period "Custom dates".
(function () {
  const days = document.getElementById("days");
  const dates = ["from", "to"].map((id) => document.getElementById(id)).filter(Boolean);
  if (!days) return;
  days.addEventListener("change", () => { if (days.value) dates.forEach((input) => { input.value = ""; }); });
  dates.forEach((input) => input.addEventListener("change", () => { if (input.value) days.value = ""; }));
})();
