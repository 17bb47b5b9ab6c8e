"""Tests of metrics_core.events: schema table, timestamps, decoding."""
