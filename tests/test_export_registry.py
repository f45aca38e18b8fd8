"""Every registered precision and deployment target, looped over: adding one is an entry plus a row here.

Each precision builds on a tiny model (a random-init test_resnet with a fitted head, 32 px, test_export's colour images) and
passes its gate there; at gate level, numbers made to sit just inside and just outside each
precision's limits pass and fail. Each target's defaults, refusals and schemes must fit together.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_export import colours, fitted_run  # noqa: F401 - colours is a fixture used by name

from edgetl.export import PRECISIONS, TARGETS, ExportConfig, default_precisions, export
from edgetl.export.gate import ParityResult

# precision -> (a result its gate must pass, a result it must fail, what the failure names),
# under ExportConfig's defaults (INT8: agreement >= 95%, at most 0.5 points lost, >= one image).
GOOD = ParityResult(n=200, max_abs_diff=1e-5, mean_abs_diff=1e-6, rel_diff=1e-6, agreement=1.0, flips=0,
                    accuracy=0.9, reference_accuracy=0.9, provider="CPUExecutionProvider")  # fmt: skip
GATE_CASES = {
    "fp32": (GOOD, dataclasses.replace(GOOD, max_abs_diff=2e-4, rel_diff=2e-4), "relative logit diff"),
    "fp16": (
        dataclasses.replace(GOOD, max_abs_diff=0.05, rel_diff=0.01, agreement=0.995, flips=1),
        dataclasses.replace(GOOD, max_abs_diff=0.5, rel_diff=0.05),
        "relative logit diff",
    ),
    "int8-dynamic": (
        dataclasses.replace(GOOD, max_abs_diff=0.3, agreement=0.96, flips=8, accuracy=0.895),
        dataclasses.replace(GOOD, max_abs_diff=0.3, agreement=0.96, flips=8, accuracy=0.88),
        "points below PyTorch",
    ),
    "int8": (
        dataclasses.replace(GOOD, max_abs_diff=0.3, agreement=0.96, flips=8, accuracy=0.895),
        dataclasses.replace(GOOD, max_abs_diff=0.3, agreement=0.96, flips=8, accuracy=0.88),
        "points below PyTorch",
    ),
}


def test_every_precision_has_a_gate_case():
    assert sorted(GATE_CASES) == sorted(PRECISIONS.names())


@pytest.mark.parametrize("name", PRECISIONS.names())
def test_precision_gate_passes_and_fails_on_its_own_checks(name):
    good, bad, names = GATE_CASES[name]
    gate = PRECISIONS.get(name).gate(ExportConfig(source="x", precisions=[name]))
    assert gate.failures(good) == []
    failures = gate.failures(bad)
    assert failures and any(names in f for f in failures)
    # what the gate says it checks is what it checks: each failure's subject appears in its text
    assert ("agreement" in gate.text()) and (("drop" in gate.text()) == (gate.max_acc_drop is not None))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, colours) -> Path:  # noqa: F811 - the imported fixture, by name
    return fitted_run(tmp_path_factory.mktemp("registry") / "run", colours, "test_resnet", 32)


@pytest.mark.parametrize("name", PRECISIONS.names())
def test_precision_builds_and_passes_its_gate_on_a_tiny_model(tmp_path, tiny_run, name):
    p = PRECISIONS.get(name)
    target = next(t for t in TARGETS if name not in TARGETS.get(t).refused)
    report = export(ExportConfig(source=str(tiny_run), precisions=[name], target=target, calib_images=12,
                                 out_dir=str(tmp_path)))  # fmt: skip
    v = report.variant(name)
    assert v.passed is True and v.failures == []
    assert v.gate == p.gate(ExportConfig(source="x", precisions=[name], target=target)).text()
    assert Path(v.file).name == f"test_resnet-{name}-{target}.onnx" and Path(v.file).is_file()
    assert v.n_images == 18 and v.agreement is not None
    if p.off_native_note and v.provider == "CPUExecutionProvider":
        assert p.off_native_note in v.notes


@pytest.mark.parametrize("target", TARGETS.names())
def test_target_defaults_refusals_and_schemes_fit_together(target):
    from edgetl.runtime.providers import PROVIDERS

    t = TARGETS.get(target)
    defaults = default_precisions(target)
    assert defaults and defaults[0] == "fp32"
    ExportConfig(source="x", target=target, precisions=defaults)  # the defaults are accepted
    assert set(t.refused) <= set(PRECISIONS.names()) and set(t.notes) <= set(PRECISIONS.names())
    assert t.providers[-1] == "CPUExecutionProvider"  # the safety net an app falls back to
    primaries = {PROVIDERS.get(n).primary for n in PROVIDERS}
    assert t.providers[0] in primaries
    for name in PRECISIONS:
        p = PRECISIONS.get(name)
        native = {PROVIDERS.get(n).primary for n in p.native}
        if name in t.refused:
            assert "use " in t.refused[name]  # a refusal says what to use instead
            assert name not in defaults
            continue
        if name in defaults:
            assert t.providers[0] in native, f"{name} is a default for {target} but not native on it"
    assert (t.int8 is None) == ("int8" in t.refused)
    assert (t.int8_dynamic is None) == ("int8-dynamic" in t.refused)
