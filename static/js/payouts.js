// Finance home: money in transit and paid, per currency, as a bar chart (Chart.js served from node_modules).
(function () {
  const canvas = document.getElementById("payouts-chart");
  if (!canvas || typeof Chart === "undefined") return;
  const series = JSON.parse(canvas.dataset.series);
  const units = (row, key) => row[key] / 10 ** row.digits;
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: series.map((row) => row.currency.toUpperCase()),
      datasets: [
        {label: "In transit", data: series.map((row) => units(row, "in_transit"))},
        {label: "Paid", data: series.map((row) => units(row, "paid"))},
      ],
    },
    options: {responsive: true, plugins: {legend: {position: "bottom"}}},
  });
})();
