"""One module per throughput layer; each exposes `run(ctx, data) -> Result`."""
