"""The train stage: transfer learning on timm backbones (linear-probe, finetune, lp-ft).

    from edgetl.train import TrainConfig, train, evaluate
    result = train(TrainConfig(data="data/hymenoptera", model="tf_efficientnet_lite0", mode="lp-ft"))
    report = evaluate(result.run_dir, cv=5)

Modules: `config` (options), `modes` (mode -> stages), `runners` (batches per stage kind),
`loop` (the one training loop), `early_stopping`, `feature_cache`, `rundir` (files of a run),
`session` (what is written after each epoch, resume state),
`trainer` (`train`), `result` (`TrainResult`), `evaluate`, `progress` (the epoch line; the reporter is
`edgetl.progress`), `distributed` (torchrun / DDP; `ranks` torch-free, `shards` the data shares).
torch is imported only when used.
"""

from edgetl.train.config import TrainConfig
from edgetl.train.evaluate import evaluate
from edgetl.train.trainer import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "evaluate", "train"]
