"""Layer 2: a no-op Faust agent (plain iteration over the stream); this file is also the child app."""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # the child: python bench/layers/faust_noop.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import Context, Dataset, Result
from bench.layers import faust_common

LAYER = "Faust agent, no-op (kafka://)"


def run(ctx: Context, data: Dataset) -> Result:
    return faust_common.result(LAYER, data, faust_common.run_child(ctx, data, "faust_noop.py", LAYER))


def main() -> None:
    app, topic, tally = faust_common.app_from_env()

    @app.agent(topic, name="bench.noop")  # type: ignore[untyped-decorator]  # faust ships no types
    async def noop(stream: object) -> None:
        async for _ in stream:  # type: ignore[attr-defined]
            tally.tick()

    faust_common.work(app)


if __name__ == "__main__":
    main()
