"""`pulse top`: a live terminal view of the key gauges, read from the exporter's /metrics."""
