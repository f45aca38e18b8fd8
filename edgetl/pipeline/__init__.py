"""The whole job in one call: train -> export (variants for this machine) -> bench -> report.

    from edgetl.pipeline import load_run_config, run
    result = run(load_run_config())                      # Lite0 (offline weights) on built-in digits
    result = run(load_run_config("my-run.yaml", cli={"train": {"data": "photos"}}))
    print(result.report_html, [s.status for s in result.steps])

`edgetl run` is the command-line face of this package.
"""

from edgetl.pipeline.config import DATASET_PRESETS, RunConfig, load_run_config
from edgetl.pipeline.run import RunResult, StepResult, run

__all__ = ["DATASET_PRESETS", "RunConfig", "RunResult", "StepResult", "load_run_config", "run"]
