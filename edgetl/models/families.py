"""The backbone families edgetl is checked on: one list for `bench/backbones.py` and the CI tests.

    for name in FAMILIES:                 # "ResNet", "MobileNetV2", ...
        fam = FAMILIES.get(name)
        fam.model, fam.tiny               # the benchmarked config, and a tiny one for CI

Each family names the config the compatibility matrix trains and benchmarks (`model`, with
`pretrained` weights: random init except Lite0, whose ImageNet weights install offline) and a
tiny config that goes through the same train -> export -> INT8 path in `tests/test_backbones.py`
(a timm `test_*` model, or the smallest real config at a tiny input size). `quirk` says what the
family exercises that the others do not.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgetl.registry import Registry


@dataclass(frozen=True)
class Family:
    model: str  # timm name benchmarked by bench/backbones.py
    tiny: str  # timm name for the CI test: a test_* model or the smallest real config
    quirk: str  # what this family exercises
    pretrained: str = "none"  # weights for the benchmark (the CI test always starts from random weights)
    lr: float = 2e-3  # fine-tuning lr for the benchmark's from-scratch training


FAMILIES: Registry[Family] = Registry("backbone family")

for _name, _family in {
    "ResNet": Family("resnet18", "test_resnet", "plain conv + BN + ReLU, the baseline"),
    "MobileNetV2": Family("mobilenetv2_050", "mobilenetv2_035", "depthwise separable, ReLU6"),
    "MobileNetV3": Family(
        "mobilenetv3_large_100", "mobilenetv3_large_075", "hard-swish / hard-sigmoid, squeeze-excite"
    ),
    "MobileNetV3-Small": Family(
        "mobilenetv3_small_100",
        "mobilenetv3_small_050",
        "MobileNetV3 at its smallest: 16-96 channels, where INT8 convs gain least",
    ),
    "MobileNetV4": Family(
        "mobilenetv4_conv_small", "mobilenetv4_conv_small_035", "universal inverted bottleneck"
    ),
    "EfficientNet-B0": Family("efficientnet_b0", "test_efficientnet", "SiLU + squeeze-excite"),
    "EfficientNet-Lite0": Family(
        "tf_efficientnet_lite0",
        "tf_efficientnet_lite0",
        "TF 'same' padding, ReLU6, offline ImageNet weights",
        pretrained="efficientnet_lite0",
        lr=1e-3,
    ),
    "RegNet": Family("regnetx_002", "regnetx_002", "grouped convolutions"),
    "GhostNet": Family("ghostnet_050", "ghostnet_050", "takes no drop_path_rate"),
    "ConvNeXt": Family("convnext_atto", "test_convnext", "7x7 depthwise, LayerNorm, GELU"),
    "FastViT": Family(
        "fastvit_t8", "fastvit_t8", "re-parameterized before export (RepMixer, MobileOne blocks)"
    ),
    "EfficientViT": Family("efficientvit_b0", "efficientvit_b0", "ReLU linear attention, no drop_path_rate"),
    "MobileViT": Family("mobilevit_xxs", "mobilevit_xxs", "conv + transformer blocks, SiLU"),
    "DeiT/ViT-Tiny": Family(
        "deit_tiny_patch16_224",
        "deit_tiny_patch16_224",
        "img_size fixed at creation, MatMul attention, GELU, LayerNorm",
        lr=5e-4,
    ),
    "LeViT": Family(
        "levit_128s", "levit_128s", "two heads (distillation), attention biases sized at creation", lr=1e-3
    ),
}.items():
    FAMILIES.register(_name, _family)


__all__ = ["FAMILIES", "Family"]
