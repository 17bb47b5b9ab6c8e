"""The traffic simulator: one seeded generator per family, a weighted mix, scenarios, a paced sender.

Modules: `web`, `email`, `social`, `survey`, `customer` (the generators, on `base`), `mix`
(`Traffic`, `timeline`, `routing`), `scenarios` (`SCENARIOS`), `run` (`pulse simulate`).
Imports stay in the modules so that `pulse --help` does not load Kafka clients.
"""
