"""App benchmark: intake submitted -> results page rendered, on the bundled demo directory.

Measured with streamlit.testing.v1.AppTest, which runs the same page scripts a browser session
runs (server side: ranking, explanations, cards; a card's chart only once opened), without
network or drawing.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def intake_to_results(repeats: int = 10, therapists: int | None = None) -> dict[str, float]:
    """Median and worst seconds from pressing 'Show my matches' to the results being built.

    With ``therapists``, the session uses a synthetic directory of that size, as if uploaded.
    """
    directory = None
    if therapists is not None:
        from matcher import synth
        from matcher.directory import encode
        from matcher.schema import DIRECTORY_FIELDS, parse_table

        table = synth.therapists(therapists, seed=3).astype(str).replace({"nan": ""})
        directory = encode(parse_table(table, DIRECTORY_FIELDS))
    times = []
    for _ in range(repeats + 1):
        at = AppTest.from_file(APP, default_timeout=60)
        if directory is not None:
            at.session_state["directory"] = directory
            at.session_state["directory_name"] = f"{therapists:,} synthetic therapists"
        at.run()  # the intake page; loads the demo directory once per process
        at.selectbox(key="state").set_value("NC")
        at.multiselect(key="concerns").set_value(["anxiety", "depression"])
        at.button[0].click()
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        assert not at.exception and len(at.metric) == 5, "the results page did not render"
    times = times[1:]  # the first includes Python's imports of the page modules
    return {"median_s": statistics.median(times), "max_s": max(times)}
