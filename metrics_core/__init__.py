"""Pulse core: events, windows, metric families, the store and exposition (no Faust here)."""
