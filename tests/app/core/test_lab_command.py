"""`gatescope lab NAME --mini`: the command runs a miniature, writes NAME.json and NAME.log
where --out says (not the committed results), with a progress bar on stderr."""

import json

from app.core.cli import main


def test_the_lab_command_runs_a_miniature(tmp_path, capsys):
    assert main(["lab", "forget-bias", "--mini", "--trials", "1", "--workers", "1",
                 "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "forget-bias.json").read_text())
    assert [a["name"] for a in results["arms"]] == ["lstm-bias0", "lstm-bias1", "gru"]
    assert (tmp_path / "forget-bias.log").read_text().startswith("# gatescope lab forget-bias")
    out = capsys.readouterr()
    assert "6/6 trials" in out.err and "ETA" in out.err
    assert f"wrote {tmp_path}/forget-bias.json" in out.out


def test_bad_counts_are_refused(tmp_path, capsys):
    assert main(["lab", "dyck1", "--mini", "--trials", "0", "--out", str(tmp_path)]) == 2
    assert "--trials must be at least 1" in capsys.readouterr().err
