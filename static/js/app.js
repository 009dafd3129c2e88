// Refero's own page behaviour. No inline scripts: the Content-Security-Policy forbids them.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copyTarget);
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    document.execCommand("copy");
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
});

// Tables that become cards on a phone: each cell is labelled with its column's heading (see app.css).
document.querySelectorAll("table.table-cards").forEach((table) => {
  const headings = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  table.querySelectorAll("tbody tr").forEach((row) => {
    [...row.children].forEach((cell, index) => {
      if (cell.tagName === "TD" && !cell.dataset.label && headings[index]) cell.dataset.label = headings[index];
    });
  });
});
