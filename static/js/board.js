// Task board: drag cards between columns with SortableJS; each drop is saved at once.
(function () {
  const board = document.getElementById("board");
  if (!board || typeof Sortable === "undefined") return; // without JavaScript, each card's Move form works
  const announce = (text) => { document.getElementById("board-status").textContent = text; };
  const labels = {todo: "To do", doing: "Doing", done: "Done"};

  function recount() {
    board.querySelectorAll(".task-list").forEach((list) => {
      list.closest(".board-column").querySelector("[data-count]").textContent = list.children.length;
    });
  }

  async function save(event) {
    const card = event.item;
    const status = event.to.dataset.status;
    const previous = card.previousElementSibling;
    card.classList.add("task-saving");
    try {
      const response = await fetch(card.dataset.moveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": board.dataset.csrf},
        body: JSON.stringify({status: status, after_id: previous ? Number(previous.dataset.taskId) : null}),
      });
      if (!response.ok) throw new Error(response.status);
      card.querySelector("select[name=status]").value = status;
      card.dataset.saved = status;
      announce(`Moved “${card.querySelector(".task-title").textContent}” to ${labels[status]}.`);
    } catch (error) {
      announce("The move could not be saved; the board is reloaded.");
      window.location.reload();
    } finally {
      card.classList.remove("task-saving");
      recount();
    }
  }

  board.querySelectorAll(".task-list").forEach((list) => {
    Sortable.create(list, {
      group: "tasks",
      animation: 150,
      draggable: ".task-card",
      filter: "select, button, a, input",
      preventOnFilter: false,
      onEnd: (event) => {
        if (event.from === event.to && event.oldIndex === event.newIndex) return;
        save(event);
      },
    });
  });
})();
