"""Running Refero: structured logs with request ids, health and readiness checks, metrics, `doctor`."""
