"""Torch-free inference for apps: onnxruntime + numpy + Pillow only.

    from edgetl.runtime import Classifier
    clf = Classifier.load("model.onnx", providers="auto", threads=2)
    print(clf.predict("bee.jpg").label)

Importing this package never imports torch, torchvision or timm (a test checks it).
"""

from edgetl.runtime.classifier import Classifier, InputError, Prediction, softmax, to_image
from edgetl.runtime.image import BadImageError, load_rgb
from edgetl.runtime.metadata import ModelMetadata
from edgetl.runtime.preprocess import INTERPOLATIONS, Preprocess
from edgetl.runtime.providers import (
    PROVIDERS,
    ProviderFallbackWarning,
    ProviderSpec,
    create_session,
    provider_names,
)

__all__ = [
    "INTERPOLATIONS",
    "PROVIDERS",
    "BadImageError",
    "Classifier",
    "InputError",
    "ModelMetadata",
    "Prediction",
    "Preprocess",
    "ProviderFallbackWarning",
    "ProviderSpec",
    "create_session",
    "load_rgb",
    "provider_names",
    "softmax",
    "to_image",
]
