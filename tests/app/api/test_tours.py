"""GET /api/tours: the tours the issue names, 5 to 10 steps each, text from data files, each
step's view made of page settings and the presets it names existing."""

import cells
from app.tours import VIEW_KEYS

NAMED = {"valves-and-pipes", "lstm-as-counter", "write-it-down", "vanishing-sensitivity",
         "quote-cell"}


def test_tours_list_their_steps(client):
    tours = client.get("/api/tours").json()
    assert NAMED <= {t["name"] for t in tours}
    presets = set(cells.presets.names())
    for tour in tours:
        assert tour["title"] and 5 <= len(tour["steps"]) <= 10
        for step in tour["steps"]:
            assert step["text"] and "seed 0" not in step["text"].lower()
            view = step["view"]
            assert set(view) <= VIEW_KEYS
            named = [view["preset"]] if "preset" in view else []
            assert set(named + view.get("compare", [])) <= presets
            assert step["names"], "each step speaks of some signal"
