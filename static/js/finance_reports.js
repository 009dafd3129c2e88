// Finance home: payouts per month per currency, from the canvas's data-chart (the CSP forbids inline scripts).
(function () {
  if (typeof Chart === "undefined") return; // the table under the chart carries every figure
  const canvas = document.getElementById("paid-chart");
  if (!canvas) return;
  const chart = JSON.parse(canvas.dataset.chart);
  const colours = ["#0d6efd", "#198754", "#fd7e14", "#6f42c1", "#d63384", "#20c997"];
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: chart.labels,
      datasets: Object.entries(chart.units).map(([currency, values], i) => ({
        label: currency.toUpperCase(), data: values.map(Number), backgroundColor: colours[i % colours.length],
      })),
    },
    options: {animation: false, scales: {y: {beginAtZero: true}}},
  });
})();
