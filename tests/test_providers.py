"""Every registered execution provider: a session on it either runs on its primary provider or says
why not (`fallback`), and predicts either way. Adding a provider is one `PROVIDERS` entry; this
loop then checks it (on a machine without its hardware it checks the fallback is honest)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _onnx_fixtures import export_tiny

from edgetl.runtime import PROVIDERS, Classifier, ProviderFallbackWarning, create_session
from edgetl.runtime.providers import CPU


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    return export_tiny(tmp_path_factory.mktemp("providers") / "m-fp32.onnx")


def test_specs_are_well_formed():
    assert {"cpu", "cuda", "tensorrt"} <= set(PROVIDERS.names())
    for name in PROVIDERS:
        spec = PROVIDERS.get(name)
        assert spec.name == name and spec.chain and spec.chain[-1] == CPU  # CPU is always the safety net
        assert spec.device in ("cpu", "cuda")
        assert spec.primary == CPU or spec.why_unavailable  # a GPU provider says what a fallback means


@pytest.mark.parametrize("name", PROVIDERS.names())
def test_session_runs_on_its_provider_or_records_why_not(name, tiny_onnx):
    spec = PROVIDERS.get(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sess = create_session(tiny_onnx, name, threads=1)
    told = [w for w in caught if issubclass(w.category, ProviderFallbackWarning)]
    assert sess.used and sess.name == name
    if sess.used[0] == spec.primary:
        assert sess.fallback is None and not told and sess.device == spec.device
    else:
        assert sess.fallback.startswith(spec.why_unavailable) and len(told) == 1
        assert sess.device == ("cuda" if sess.used[0] != CPU else "cpu")
    clf = Classifier.load(tiny_onnx, providers=name, threads=1, warn=False)
    assert clf.providers == sess.used and clf.fallback == sess.fallback
    img = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    assert clf.predict(img).label in ("ant", "bee")
