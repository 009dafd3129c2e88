"""The office task board: tasks, their moves between columns, and tasks created by events."""
