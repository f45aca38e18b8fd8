"""`edgetl select` end to end on 2 tiny candidates: table, front, pick, select.json and the plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import COLORS, write_images

from edgetl.cli import main
from edgetl.config import ConfigError
from edgetl.select.config import DEFAULT_CANDIDATES, SelectConfig, parse_candidate

TINY = "test_efficientnet:none@32,test_efficientnet:none@48"


def test_default_candidates_are_nine_offline_lite_models() -> None:
    cands = SelectConfig(data="x").parsed()
    assert len(cands) == 9 and len(DEFAULT_CANDIDATES) == 9
    assert {c.weights for c in cands} == {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"}
    assert [c.img_size for c in cands[:3]] == [192, 224, 256]


@pytest.mark.parametrize("bad", ["resnet18", "resnet18@224", "resnet18:timm@big", "resnet18:timm@4"])
def test_a_misspelled_candidate_is_one_line_naming_the_flag(bad: str) -> None:
    with pytest.raises(ConfigError, match="--candidates"):
        parse_candidate(bad)


def test_select_two_tiny_candidates_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data"
    for i, cls in enumerate(("a", "b")):
        write_images(data / "train" / cls, COLORS[i], 10, size=(48, 48), seed=i)
        write_images(data / "val" / cls, COLORS[i], 5, size=(48, 48), seed=100 + i)
    out = tmp_path / "sel"
    argv = ["select", "--data", str(data), "--candidates", TINY, "--out", str(out), "--runs", "10",
            "--time-budget", "1", "--calib-images", "8", "--cache-dir", str(tmp_path / "cache"), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    rec = json.loads((out / "select.json").read_text())
    assert [c["name"] for c in rec["candidates"]] == ["test_efficientnet@32", "test_efficientnet@48"]
    for c in rec["candidates"]:
        assert 0 <= c["cv_acc"] <= 1 and 0 <= c["val_acc"] <= 1 and c["fp32_ms"] > 0 and c["int8_ms"] > 0
    assert rec["front"] and rec["chosen_index"] in rec["front"] and "default rule" in rec["rule"]
    assert (out / "select.png").stat().st_size > 1000
    assert "test_efficientnet@48" in text and "<= chosen" in text and "Pareto front" in text
    # the budget moves the pick: on these measured numbers, each candidate's own latency picks the best within it
    from edgetl.select.api import decide
    from edgetl.select.measure import Measured

    measured = [Measured(**c) for c in rec["candidates"]]
    for m in measured:
        _, chosen, rule, _ = decide(measured, m.int8_ms)
        within = [x for x in measured if x.int8_ms <= m.int8_ms]
        assert measured[chosen].cv_acc == max(x.cv_acc for x in within) and "--latency-budget" in rule
    fastest = min(m.int8_ms for m in measured)
    assert main(["select", "--data", str(data), "--latency-budget", "0"]) == 2  # checked before any work
    assert "--latency-budget must be > 0" in capsys.readouterr().err
    assert fastest > 0
