"""Property-based hardening (issue 12, must-show 2): random ONNX metadata values into
`Classifier.load`/`predict`, random bytes and random YAML into every `--config`. Each example must
end in a result or in one short EdgetlError line (exit 2 for the CLI): never a traceback, never a
hang (each example runs under an alarm). In-process, so 300+ examples stay fast; one subprocess
per entry point checks the real exit status and stderr.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from _onnx_fixtures import export_tiny, metadata_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from edgetl.errors import EdgetlError

EXAMPLES = 300
EXAMPLE_S = 30  # an example that takes longer is a hang (it takes well under a second)
LABELS = ["ant", "bee"]
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@contextlib.contextmanager
def alarm(seconds: int = EXAMPLE_S):
    def hang(*_):
        raise AssertionError(f"example took more than {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def assert_one_line(e: BaseException) -> str:
    text = str(e)
    assert isinstance(e, EdgetlError), f"{type(e).__name__}: {text[:300]}"
    assert "\n" not in text and 0 < len(text) < 600, text[:800]
    return text


# ------------------------------------------------------------------------------- ONNX metadata

NUMBERS = st.one_of(
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 3, 32, -1, 0.875, 1e-300, 1e300, 2**64]),
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
NEAR_VALID = {  # values that are often right, so that many examples get as far as predict()
    "labels": st.one_of(
        st.lists(st.text(min_size=1, max_size=12), min_size=0, max_size=4),
        st.just(LABELS),
        st.lists(st.sampled_from(["ant", "bee", "x" * 600, ""]), min_size=2, max_size=2),
    ),
    "input_size": st.one_of(st.just([3, 32, 32]), st.lists(st.integers(-5, 10**6), min_size=2, max_size=4)),
    "mean": st.lists(NUMBERS, min_size=2, max_size=4) | st.just([0.5, 0.5, 0.5]),
    "std": st.lists(NUMBERS, min_size=2, max_size=4) | st.just([0.25, 0.25, 0.25]),
    "crop_pct": NUMBERS | st.none(),
    "interpolation": st.sampled_from(["bicubic", "bilinear", "nearest", "lanczos", "bogus", ""]),
    "crop_mode": st.sampled_from(["center", "squash", "border", "zoom"]) | st.none(),
    "input_layout": st.sampled_from(["nchw-float", "nhwc-uint8", "planar"]),
    "softmax": st.booleans() | st.integers(0, 1),
}


def _prop_value(key: str):
    raw = st.text(max_size=30).map(lambda s: "\0" + s)  # not JSON at all (stays a string)
    huge = st.integers(1, 3).map(lambda n: json.dumps(["y" * 1000] * (2000 * n)))
    deep = st.integers(100, 5000).map(lambda n: "[" * n + "]" * n)
    near = NEAR_VALID.get(key, JSON_VALUES).map(lambda v: json.dumps(v, allow_nan=True))
    return st.one_of(
        near, near, near, JSON_VALUES.map(lambda v: json.dumps(v, allow_nan=True)), raw, huge, deep
    )


@st.composite
def metadata_props(draw) -> dict[str, str]:
    props = metadata_for(LABELS).to_props()
    keys = sorted(k[len("edgetl.") :] for k in props)
    for key in draw(st.lists(st.sampled_from([*keys, "brand_new"]), min_size=1, max_size=4, unique=True)):
        if draw(st.integers(0, 9)) == 0:
            props.pop("edgetl." + key, None)  # missing key
        else:
            props["edgetl." + key] = draw(_prop_value(key))
    return props


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import onnx

    folder = tmp_path_factory.mktemp("props")
    model = onnx.load(str(export_tiny(folder / "good.onnx", LABELS)))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (24 + 7 * i, 40, 3), dtype=np.uint8) for i in range(3)]
    return folder, model, images


COUNTS = {"loaded": 0, "refused": 0}


def _stamp(model, props: dict[str, str], path: Path) -> Path:
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.metadata_props[:]
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(path))
    return path


@SETTINGS
@given(props=metadata_props())
def test_random_metadata_values_load_and_predict_or_one_line(tiny, props) -> None:
    from edgetl.runtime import Classifier

    folder, model, images = tiny
    path = _stamp(model, props, folder / "m.onnx")
    with alarm():
        try:
            clf = Classifier.load(path, providers="cpu", threads=1)
            preds = clf.predict(images) + [clf.predict(images[0])]
        except Exception as e:  # noqa: BLE001 - the property: only EdgetlError, one line
            assert_one_line(e)
            COUNTS["refused"] += 1
            return
    COUNTS["loaded"] += 1
    for p in preds:
        assert p.label in clf.labels and math.isfinite(p.score) and 0.0 <= p.score <= 1.0, p


def test_metadata_examples_reached_both_outcomes() -> None:
    """The property above must have exercised loads that work, not only refusals (runs after it)."""
    if COUNTS["loaded"] + COUNTS["refused"] < EXAMPLES:
        pytest.skip("run together with test_random_metadata_values_load_and_predict_or_one_line")
    assert COUNTS["loaded"] >= 20 and COUNTS["refused"] >= 100, COUNTS
    print(
        f"random metadata: {COUNTS['loaded']} loaded and predicted, {COUNTS['refused']} refused in one line"
    )


# ------------------------------------------------------------------------------ --config files

CONFIG_KEYS = {
    "train": ["data", "lr", "lp_lr", "epochs", "batch_size", "model", "mode", "scale", "val_split", "seed",
              "auto_augment", "ema", "optimizer", "num_workers", "bogus_key"],
    "run": ["train", "export", "bench", "target", "steps", "bogus_key"],
}  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    NUMBERS,
    st.text(max_size=12),
    st.sampled_from(["1e-3", "nan", ".inf", "-0", "digits"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda v: st.lists(v, max_size=4) | st.dictionaries(st.text(max_size=6), v, max_size=3),
    max_leaves=10,
)


@st.composite
def config_bytes(draw, command: str) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=2048))
    if kind == 1:
        return draw(st.text(max_size=400)).encode("utf-8", "surrogatepass")
    keys = CONFIG_KEYS[command] + (CONFIG_KEYS["train"] if command == "run" else [])
    doc = draw(st.dictionaries(st.sampled_from(keys), VALUES, max_size=5))
    if command == "run" and draw(st.booleans()):
        doc = {"train": doc}
    try:
        text = yaml.safe_dump(doc, allow_unicode=draw(st.booleans()))
    except Exception:  # noqa: BLE001 - a value PyYAML cannot dump: use its repr
        text = repr(doc)
    if kind == 5:  # damage it: truncate, or add YAML's own syntax (anchors, aliases, tags)
        cut = draw(st.integers(0, len(text)))
        extra = draw(
            st.sampled_from(["", "&a ", "*a", "!!python/object:os.system ", "? ", "- ", ": ", "{", "]"])
        )
        text = text[:cut] + extra + text[cut:]
    return text.encode("utf-8", "surrogatepass")


def run_cli(argv: list[str]) -> tuple[int, str]:
    from edgetl.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


@pytest.fixture(scope="module")
def no_work(tmp_path_factory):
    """A config that passes every check must not start training: the stage functions refuse.
    The argument parser is built once (it is most of an in-process call's cost, and is the same each time)."""
    import functools

    import edgetl.cli
    import edgetl.pipeline
    import edgetl.train

    def refuse(*_a, **_k):
        raise EdgetlError("config accepted")

    mp = pytest.MonkeyPatch()
    mp.setattr(edgetl.train, "train", refuse)
    mp.setattr(edgetl.pipeline, "run", refuse)
    mp.setattr(edgetl.cli, "build_parser", functools.cache(edgetl.cli.build_parser))
    yield tmp_path_factory.mktemp("configs")
    mp.undo()


@pytest.mark.parametrize("command", ["train", "run"])
def test_random_config_files_are_exit_2_with_one_line(command, no_work) -> None:
    path = no_work / f"{command}.yaml"
    seen: list[str] = []

    @SETTINGS
    @given(data=config_bytes(command))
    def check(data: bytes) -> None:
        path.write_bytes(data)
        with alarm():
            code, err = run_cli(
                [command, "--config", str(path), "--val-split", "5", "--out", str(no_work / "o")]
            )
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith(f"edgetl {command}: error: "), (
            code,
            err[:2000],
        )
        assert len(lines[0]) < 600, lines[0][:800]
        seen.append(lines[0])

    check()
    assert len(seen) >= EXAMPLES and not (no_work / "o").exists()
    kinds = {
        "not text": sum("not UTF-8" in x or "NUL bytes" in x for x in seen),
        "not YAML": sum("not valid YAML" in x for x in seen),
        "wrong key or value": sum(
            any(w in x for w in ("unknown key", "expected", "is not one of")) for x in seen
        ),
        "parsed and typed": sum("--val-split must be" in x for x in seen),
    }
    assert min(kinds.values()) >= 5, kinds  # every layer of checks was reached, not one early exit
    print(f"{command} --config: {len(seen)} examples, exit 2 with one line each; {kinds}")


# ------------------------------------------------------------------- the real exit status, once each


def _subprocess(argv: list[str]) -> tuple[int, list[str]]:
    r = subprocess.run([sys.executable, "-m", "edgetl", *argv], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stderr.strip().splitlines()


@pytest.mark.parametrize("command", ["train", "run"])
def test_a_bad_config_file_exits_2_with_one_line_from_the_real_cli(command, tmp_path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_bytes(b"lr: &a [*a, *a]\n\xff\xfe" + bytes(range(32)))
    code, lines = _subprocess([command, "--config", str(path)])
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"edgetl {command}: error: "), lines


def test_bad_metadata_exits_2_with_one_line_from_the_real_cli(tiny, tmp_path) -> None:
    _, model, _ = tiny
    path = _stamp(
        model, {**metadata_for(LABELS).to_props(), "edgetl.std": "[0, 1e999, NaN]"}, tmp_path / "m.onnx"
    )
    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    code, lines = _subprocess(["predict", str(path), str(img)])
    assert code == 2 and len(lines) == 1 and "edgetl.std must be 3 finite numbers >= 0.0001" in lines[0], (
        lines
    )
