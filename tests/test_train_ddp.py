"""`edgetl train` under torchrun (DDP): 2 CPU processes (gloo) match 1 process; only rank 0 writes.

The run is lp-ft on 27 train / 15 val generated images with a global batch of 8, so the last
batch of each epoch (3 images) splits unevenly (2 + 1) and exercises the per-rank loss weighting,
and the validation blocks are uneven too (7 + 8). The options leave nothing random that depends
on the process: no dropout or stochastic depth, no flip, frozen BatchNorm, and RandomResizedCrop
with scale (1, 1) always returns the whole image. Then 2 processes take the same optimizer
steps as 1 process, and only floating-point sums differ: DDP averages the two ranks' gradients
where one process sums every sample in one reduction, and each rank computes its block of
features in smaller batches. That rounding (~1e-7 relative per step) grows through 5 epochs.

Tolerance: the weights as a whole within 1e-4 relative (||w2 - w1|| / ||w1||; seeds 0-3 gave
at most 7e-6), every loss within 1e-4 relative (at most 1.1e-5 seen), identical accuracies,
best epoch and confusion matrix. Single weights are not bounded one by one: where a gradient is
near zero, AdamW divides it by its own tiny running RMS, so rounding noise there moves a weight
by up to ~lr per step (3e-4 was seen).
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import COLORS, TINY_TRAIN, write_images
from safetensors.torch import load_file

from edgetl.errors import EdgetlError
from edgetl.progress import Reporter
from edgetl.train import TrainConfig, train

WEIGHT_RTOL = 1e-4  # ||w2 - w1|| / ||w1|| over every floating-point tensor of best.safetensors
LOSS_RTOL = 1e-4
TIMEOUT = 240  # seconds per torchrun launch; each takes about 10 s on 2 shared cores

OPTS = {
    **TINY_TRAIN,
    "mode": "lp-ft",
    "hflip": 0.0,
    "scale": (1.0, 1.0),
    "drop": 0.0,
    "patience": 0,
    "device": "cpu",  # gloo, also where a GPU is visible
    # float32: on a CPU with native bf16 `--amp auto` is bf16, whose rounding (~4e-3 relative) is far
    # above the float32 summation-order tolerance these tests check (seen: 1e-3 loss differences)
    "amp": "none",
}
RUN_FILES = {
    "config.yaml",
    "data.json",
    "metrics.csv",
    "curves.png",
    "checkpoints/best.safetensors",
    "checkpoints/best.json",
    "checkpoints/last.safetensors",
    "checkpoints/last.json",
    "eval/eval.json",
    "eval/confusion.png",
}
TESTS = Path(__file__).parent


def flags(opts: dict) -> list[str]:
    out = []
    for k, v in opts.items():
        out += ["--" + k.replace("_", "-"), *(map(str, v) if isinstance(v, tuple) else [str(v)])]
    return out


def torchrun(*argv: str, nproc: int = 2, record: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m torch.distributed.run --standalone` (a free port per launch); argv: script or -m module + args."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if record is not None:
        record.mkdir(parents=True, exist_ok=True)
        env["EDGETL_TEST_RECORD"] = str(record)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *argv]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def run_files(run: Path) -> set[str]:
    return {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()}


def metrics(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def weight_drift(run: Path, ref: Path) -> float:
    """||w_run - w_ref|| / ||w_ref|| over every floating-point tensor of the best checkpoints."""
    a = load_file(str(run / "checkpoints" / "best.safetensors"))
    b = load_file(str(ref / "checkpoints" / "best.safetensors"))
    assert a.keys() == b.keys()
    keys = [k for k in b if b[k].is_floating_point()]
    diff = sum(float((a[k].double() - b[k].double()).square().sum()) for k in keys)
    norm = sum(float(b[k].double().square().sum()) for k in keys)
    return (diff / norm) ** 0.5


def assert_same_training(run: Path, ref: Path) -> None:
    """The tolerance of the module docstring: the run in `run` matches the single-process `ref`."""
    got, want = metrics(run), metrics(ref)
    worst = max(
        abs(float(g[k]) - float(w[k])) / max(abs(float(w[k])), 1e-12)
        for g, w in zip(got, want, strict=True)
        for k in ("train_loss", "val_loss")
    )
    print(
        f"ddp {run.name}: weight drift {weight_drift(run, ref):.2g} (relative L2), worst loss {worst:.2g} relative"
    )
    assert [(r["epoch"], r["stage"], r["best"]) for r in got] == [
        (r["epoch"], r["stage"], r["best"]) for r in want
    ]
    for g, w in zip(got, want, strict=True):
        assert float(g["train_acc"]) == float(w["train_acc"]) and float(g["val_acc"]) == float(w["val_acc"])
        for k in ("train_loss", "val_loss", "lr"):
            assert float(g[k]) == pytest.approx(float(w[k]), rel=LOSS_RTOL), (g["epoch"], k)
    drift = weight_drift(run, ref)
    assert drift <= WEIGHT_RTOL, f"weights differ by {drift:.3g} (relative L2) > {WEIGHT_RTOL}"
    got_eval = json.loads((run / "eval" / "eval.json").read_text())
    want_eval = json.loads((ref / "eval" / "eval.json").read_text())
    assert (got_eval["top1"], got_eval["epoch"], got_eval["confusion"]) == (
        want_eval["top1"],
        want_eval["epoch"],
        want_eval["confusion"],
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ddp") / "data"
    for i, cls in enumerate(("a", "b", "c")):
        write_images(root / "train" / cls, COLORS[i], 9, size=(32, 32), seed=i)
        write_images(root / "val" / cls, COLORS[i], 5, size=(32, 32), seed=100 + i)
    return root


@pytest.fixture(scope="module")
def reference(data: Path) -> Path:
    """The same run in one process (in this process: no torchrun environment)."""
    out = data.parent / "single"
    train(
        TrainConfig(
            data=str(data), out=str(out), cache_dir=str(data.parent / "cache-single"), quiet=True, **OPTS
        )
    )
    return out


def test_two_processes_match_one_and_only_rank_0_writes(data: Path, reference: Path) -> None:
    run, cache, record = data.parent / "two", data.parent / "cache-two", data.parent / "record"
    p = torchrun(
        str(TESTS / "_ddp_cli.py"), "train", "--data", str(data), "--out", str(run), "--cache-dir", str(cache),
        *flags(OPTS), record=record,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert_same_training(run, reference)

    # One set of files, written by rank 0; rank 1 committed no file at all.
    assert run_files(run) == run_files(reference) == RUN_FILES
    ranks = [json.loads((record / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[1]["replaced"] == []
    written = [Path(f) for f in ranks[0]["replaced"]]
    in_run = {str(f.relative_to(run.resolve())) for f in written if run.resolve() in f.parents}
    assert in_run == RUN_FILES | {"checkpoints/train_state.pt"}  # the state is removed at the end

    # The feature cache: computed once, half on each rank, written once by rank 0.
    entries = list(cache.iterdir())
    assert len(entries) == 1 and entries[0].suffix == ".safetensors"
    assert [f for f in written if cache.resolve() in f.parents] == [entries[0].resolve()]
    # Contiguous blocks: train 27 = 13 + 14, val 15 = 7 + 8; 42 vectors in all, each computed once.
    assert [r["extracted"] for r in ranks] == [13 + 7, 14 + 8]

    # Only rank 0 prints: every line once.
    assert p.stdout.count("best epoch 5 (finetune)") == 1
    for line in ("feature cache miss: computed 42 feature vectors", "distributed: 2 processes, backend gloo"):
        assert p.stderr.count(line) == 1, line
    for epoch in range(1, 6):
        assert p.stderr.count(f"epoch {epoch}/5 ") == 1


def test_resume_under_torchrun_continues_the_run(data: Path, reference: Path) -> None:
    """A run interrupted after its second probe epoch (single process) is finished by 2 processes:
    rank 0 reads the train state for both, the features come from the cache (rank 0 sends them)."""
    run, cache = data.parent / "resumed", data.parent / "cache-single"

    class StopAfterEpoch2(Reporter):
        def info(self, msg: str) -> None:
            if msg.startswith("epoch 2/5"):
                raise KeyboardInterrupt

    cfg = TrainConfig(data=str(data), out=str(run), cache_dir=str(cache), quiet=False, **OPTS)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, reporter=StopAfterEpoch2(stream=io.StringIO()))
    assert len(metrics(run)) == 2 and (run / "checkpoints" / "train_state.pt").is_file()

    p = torchrun("-m", "edgetl", "train", "--resume", str(run), "--cache-dir", str(cache))
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stderr.count("resuming") == 1 and p.stderr.count("feature cache hit") == 1
    assert_same_training(run, reference)
    assert run_files(run) == RUN_FILES  # the train state is gone, nothing else left behind


def test_option_that_cannot_be_split_is_one_error_from_rank_0(data: Path) -> None:
    run = data.parent / "bad"
    p = torchrun(
        "-m", "edgetl", "train", "--data", str(data), "--out", str(run), "--cache-dir", str(data.parent / "c"),
        *flags({**OPTS, "batch_size": 1}),
    )  # fmt: skip
    assert p.returncode != 0
    errors = [line for line in p.stderr.splitlines() if line.startswith("edgetl train: error:")]
    assert errors == [
        "edgetl train: error: --batch-size 1 is the global batch, split over 2 processes; use at least 2 "
        "(or fewer processes)"
    ]
    assert not run.exists()


def test_process_group_failure_is_one_line_naming_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgetl.train import distributed

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for k, v in dict(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1").items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("MASTER_PORT", str(port))
        with pytest.raises(EdgetlError) as e, distributed.process_group():
            pass
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("torch.distributed could not start (backend ") and "address already in use" in msg
    assert "gloo" in msg.split(")")[0]  # 'gloo', or 'cpu:gloo,cuda:nccl' where CUDA is there
    assert not distributed.active()


def test_rank_queries_read_the_environment_without_torch() -> None:
    """The CLI decides who prints an error from torchrun's environment before torch is loaded."""
    code = (
        "import sys; from edgetl.train import ranks; "
        "print(ranks.launched(), ranks.env_rank(), ranks.local_rank(), ranks.active(), ranks.is_main(), "
        "'torch' in sys.modules)"
    )
    env = {**os.environ, "RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "3", "1", "False", "True", "False"]  # no group: rank 0 of 1 here
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "0", "0", "False", "True", "False"]


def test_rank_batches_are_the_single_process_batches_split() -> None:
    """Each global batch is the one a single process trains on; ranks share it by striding."""
    from edgetl.train.distributed import RankBatches

    g = torch.Generator().manual_seed(0)
    order = list(torch.utils.data.RandomSampler(range(27), generator=g))
    batches = torch.utils.data.BatchSampler(order, 8, drop_last=False)
    shares = [list(RankBatches(batches, r, 2)) for r in (0, 1)]
    assert [sorted(a + b) for a, b in zip(*shares, strict=True)] == [sorted(b) for b in batches]
    assert [len(s) for s in shares[0]] == [4, 4, 4, 2] and [len(s) for s in shares[1]] == [4, 4, 4, 1]
    assert RankBatches(batches, 0, 2).global_sizes() == [8, 8, 8, 3]
    # Training BatchNorm cannot take one item: the 3-item batch (shares 2 + 1) is skipped.
    assert RankBatches(batches, 1, 2, min_share=2).global_sizes() == [8, 8, 8]
    assert len(list(RankBatches(batches, 1, 2, min_share=2))) == 3
    # More ranks than items in the last batch: skipped rather than leaving a rank without data.
    assert RankBatches(batches, 0, 4).global_sizes() == [8, 8, 8]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (NCCL)")
def test_torchrun_on_cuda_uses_nccl_and_matches_one_process(data: Path) -> None:
    """One process per GPU under torchrun (NCCL) against the same run without torchrun, both on cuda:0.

    No autocast; cuDNN still convolves in TF32 and sums some gradients with atomics, so two runs on
    one GPU differ more than on CPU: 100x the CPU tolerance.
    """
    opts = {**OPTS, "device": "cuda", "amp": "none"}
    ref, run = data.parent / "cuda-single", data.parent / "cuda-torchrun"
    cfg = TrainConfig(
        data=str(data), out=str(ref), cache_dir=str(data.parent / "cache-cuda"), quiet=True, **opts
    )
    train(cfg)
    p = torchrun(
        "-m", "edgetl", "train", "--data", str(data), "--out", str(run),
        "--cache-dir", str(data.parent / "cache-cuda-ddp"), *flags(opts), nproc=1,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert "distributed: 1 process, backend nccl on cuda" in p.stderr
    got, want = metrics(run), metrics(ref)
    assert [(r["epoch"], r["best"], r["val_acc"]) for r in got] == [
        (r["epoch"], r["best"], r["val_acc"]) for r in want
    ]
    for g, w in zip(got, want, strict=True):
        assert float(g["val_loss"]) == pytest.approx(float(w["val_loss"]), rel=100 * LOSS_RTOL), g["epoch"]
    drift = weight_drift(run, ref)
    assert drift <= 100 * WEIGHT_RTOL, f"weights differ by {drift:.3g} (relative L2)"
