"""Every number a tour step cites is true of the sessions that step shows (issue 19, point 3).

For each step of each tour, the sessions are made through the API as the page makes them
(static/js/main.js, applyTourView): with `view.compare`, one session per compared preset
on the step's text (the first is the one on screen); otherwise the step's preset on its
text, with the holds `view.hold` writes (static/js/state/session_config.js, parseHold) and,
for a held step, the same session without them (the original run the page draws faintly).
Each claim is then read from GET .../trace or GET .../sensitivity and must equal the claimed
value to 1e-4; every number the text writes with 4 decimals must be a claim."""

from __future__ import annotations

import io
import re
import tokenize

import pytest

from app.tours import cite, cited_numbers, load_tours

TOURS = load_tours()
STEPS = [(tour["name"], k) for tour in TOURS for k in range(len(tour["steps"]))]


def parse_hold(text: str) -> list[dict]:
    """The interventions a page URL's `hold` writes: "f:1:6-41:all;i:0:6-41:0.2" is
    signal:value:start-stop:units, units "all" or dot-separated indices (the page's reading,
    written again here from its description)."""
    out = []
    for item in filter(None, text.split(";")):
        signal, value, steps, units, *cell = item.split(":")
        start, stop = (int(v) for v in steps.split("-"))
        iv = {"signal": signal, "start": start, "stop": stop, "value": float(value),
              "units": None if units == "all" else [int(u) for u in units.split(".")]}
        if cell:
            iv["layer"], iv["direction"] = int(cell[0]), cell[1]
        out.append(iv)
    return out


def test_parse_hold_reads_the_page_format():
    assert parse_hold("") == []
    assert parse_hold("f:1:6-41:all;i:0:12-41:0.2") == [
        {"signal": "f", "start": 6, "stop": 41, "value": 1.0, "units": None},
        {"signal": "i", "start": 12, "stop": 41, "value": 0.0, "units": [0, 2]}]


class Step:
    """The sessions one tour step shows: `runs` by name ("held", "original", a compared
    preset), made once per test through `client`."""

    def __init__(self, client, step: dict):
        view = step["view"]
        samples = {p["name"]: p["sample"] for p in client.get("/api/presets").json()["presets"]}
        self.client = client
        self.runs: dict[str, dict] = {}
        compare = view.get("compare") or []
        if compare:
            text = view.get("text", samples[compare[0]])
            for preset in compare:
                self.runs[preset] = self.make({"preset": preset, "sequence": {"text": text}})
            self.runs["held"] = self.runs[compare[0]]  # the one on screen
        else:
            if "cell" in view:  # a seeded cell: {"cell", "seed", "hidden_size", "options"}
                body = {**view["cell"], "sequence": {"text": view.get("text", "")}}
            else:
                body = {"preset": view["preset"],
                        "sequence": {"text": view.get("text", samples[view["preset"]])}}
            self.runs["original"] = self.make(body)
            hold = parse_hold(view.get("hold", ""))
            self.runs["held"] = (self.make({**body, "interventions": hold}) if hold
                                 else self.runs["original"])

    def make(self, body: dict) -> dict:
        response = self.client.post("/api/sessions", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def read(self, claim: dict) -> float:
        session = self.runs[claim.get("preset", claim.get("run", "held"))]
        assert claim["t"] < session["steps"], claim
        base = f"/api/sessions/{session['id']}"
        if "signal" in claim:
            window = self.client.get(f"{base}/trace", params={
                "start": claim["t"], "stop": claim["t"] + 1, "names": claim["signal"],
                "layer": claim.get("layer", 0)})
            assert window.status_code == 200, window.text
            return window.json()["signals"][claim["signal"]][0][claim["unit"]]
        answer = self.client.get(f"{base}/sensitivity", params={
            "t": claim["t"], "unit": claim["unit"], "of": claim["sens_of"]})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["of"] == claim["sens_of"] and body["start"] <= claim["s"], claim
        return body[claim["wrt"]][claim["s"] - body["start"]]


@pytest.mark.parametrize(("tour", "k"), STEPS, ids=[f"{t}-{k}" for t, k in STEPS])
def test_every_claim_of_a_step_is_what_its_sessions_compute(client, tour, k):
    step = next(t for t in TOURS if t["name"] == tour)["steps"][k]
    assert isinstance(step["target"], str) and step["target"].strip()
    claims = step["claims"]
    shown = Step(client, step)
    for claim in claims:
        got = shown.read(claim)
        assert got == pytest.approx(claim["value"], abs=1e-4), (claim, got)
        assert cite(claim["value"]) in step["text"], claim
    claimed = [c["value"] for c in claims]
    for number in cited_numbers(step["text"]):
        assert any(abs(number - v) < 1e-9 for v in claimed), (number, step["text"])


def test_cited_numbers_are_the_four_decimal_ones():
    text = "c_28[0] = 2.0000 and −0.5412, not 0.54, 1.23456 or step 17; 10.0000."
    assert cited_numbers(text) == [2.0, -0.5412, 10.0]
    assert cite(-0.00001) == "0.0000" and cite(-0.5412) == "−0.5412"


def test_every_step_names_a_target_and_the_claims_its_text_cites():
    for tour in TOURS:
        for step in tour["steps"]:
            assert re.fullmatch(r"[^\n]{1,200}", step["target"]), step
            assert isinstance(step["claims"], list)


def test_a_step_without_target_or_with_an_unbacked_number_is_refused():
    from app.tours import check_step

    good = {"text": "c_6[0] = 1.0000", "view": {"preset": "counter", "t": 6},
            "names": ["c"], "target": "svg[data-diagram]",
            "claims": [{"signal": "c", "t": 6, "unit": 0, "value": 1.0}]}
    assert check_step(good) is None
    assert "target" in check_step({**good, "target": ""})
    assert "target" in check_step({k: v for k, v in good.items() if k != "target"})
    assert "claims" in check_step({**good, "claims": None})
    assert "no claim holds it" in check_step({**good, "text": "c = 1.0000, f = 0.5000"})
    assert "does not cite" in check_step({**good, "text": "c_6[0] = 1"})
    original = {**good["claims"][0], "run": "original"}
    assert "hold" in check_step({**good, "claims": [original]})
    assert check_step({**good, "view": {**good["view"], "hold": "f:1:6-41:all"},
                       "claims": [original]}) is None
    elsewhere = {**good["claims"][0], "preset": "long-memory-rnn"}
    assert "compare" in check_step({**good, "claims": [elsewhere]})
    assert "4 decimals" in check_step({**good, "claims": [{**good["claims"][0],
                                                           "value": 1.00001}]})
    sensitivity = {"sens_of": "c", "wrt": "c", "s": 7, "t": 6, "unit": 0, "value": 1.0}
    assert "at most its t" in check_step({**good, "claims": [sensitivity]})


def test_the_quote_cell_tour_shows_the_units_measured_to_track_strings_and_brackets():
    import cells

    units = cells.presets.get("python-source").units
    by_feature = {info["feature"]: unit for unit, info in units.items()}
    tour = next(t for t in TOURS if t["name"] == "quote-cell")
    shown = {step["view"]["unit"] for step in tour["steps"]}
    assert shown == {by_feature["in_string"], by_feature["bracket_depth"]}
    for unit in shown:  # (their held-out figures are checked in tests/cells/presets/)
        signals = {step["view"]["signal"] for step in tour["steps"]
                   if step["view"]["unit"] == unit}
        assert signals == {units[unit]["signal"]}
    text = tour["steps"][0]["view"].get("text", cells.presets.get("python-source").sample)
    first = next(tok.string for tok in tokenize.generate_tokens(io.StringIO(text).readline)
                 if tok.type == tokenize.STRING)
    assert first.strip("\"'"), first  # the first string the tour reads is not empty
