"""The reporter: progress bars only on a terminal, plain lines otherwise, --quiet keeps warnings and results."""

from __future__ import annotations

import io

from edgetl.progress import Reporter
from edgetl.train.progress import format_epoch

ROW = {
    "epoch": 3,
    "stage": "finetune",
    "train_loss": 0.41,
    "train_acc": 0.886,
    "val_loss": 0.2,
    "val_acc": 0.95,
    "lr": 1e-4,
    "seconds": 41.7,
}


def test_plain_lines_when_not_a_terminal() -> None:
    err, out = io.StringIO(), io.StringIO()
    rep = Reporter(stream=err, result_stream=out, tty=False)
    with rep.task("epoch 1", total=10) as advance:
        for _ in range(10):
            advance(loss=0.5)
    rep.info(format_epoch(ROW, 5, improved=True))
    rep.warn("skipped 1 unreadable file")
    rep.result("best epoch 3")
    assert err.getvalue().splitlines() == [
        "epoch 3/5 finetune  train loss 0.4100 acc  88.6%  | val loss 0.2000 acc  95.0%  | lr 1.00e-04  41.7s  *best",
        "warning: skipped 1 unreadable file",
    ]
    assert out.getvalue() == "best epoch 3\n"


def test_quiet_keeps_only_warnings_and_results() -> None:
    err, out = io.StringIO(), io.StringIO()
    rep = Reporter(quiet=True, stream=err, result_stream=out, tty=True)
    with rep.task("epoch 1", total=10) as advance:
        advance()
    rep.info("epoch line")
    rep.warn("careful")
    rep.result("done")
    assert err.getvalue() == "warning: careful\n" and out.getvalue() == "done\n"


def test_progress_bar_on_a_terminal_is_transient() -> None:
    err = io.StringIO()
    rep = Reporter(stream=err, result_stream=io.StringIO(), tty=True)
    with rep.task("epoch 1/2 probe", total=3) as advance:
        for _ in range(3):
            advance(loss=0.25)
    rep.info("epoch 1/2 probe ... summary")
    assert err.getvalue().rstrip().endswith("epoch 1/2 probe ... summary")


def test_disabled_reporter_is_silent() -> None:
    err, out = io.StringIO(), io.StringIO()
    rep = Reporter(stream=err, result_stream=out, enabled=False)  # e.g. a non-zero rank
    rep.info("a")
    rep.warn("b")
    rep.result("c")
    assert err.getvalue() == out.getvalue() == ""


def test_prefix_marks_stderr_lines_not_results() -> None:
    """bench, export and predict name themselves on stderr ("edgetl bench: ..."); stdout stays parseable."""
    err, out = io.StringIO(), io.StringIO()
    rep = Reporter(stream=err, result_stream=out, tty=False, prefix="edgetl bench: ", style="dim")
    for say, msg in ((rep.info, "loading m.onnx [1/2]"), (rep.warn, "no GPU"), (rep.error, "x.jpg: bad")):
        say(msg)
    rep.result("written: bench.json")
    want = "edgetl bench: loading m.onnx [1/2]|edgetl bench: warning: no GPU|edgetl bench: error: x.jpg: bad"
    assert "|".join(err.getvalue().splitlines()) == want
    assert out.getvalue() == "written: bench.json\n"


def test_styled_lines_on_a_terminal_keep_their_text() -> None:
    """A rich style on a TTY must not eat brackets in the message as markup."""
    err = io.StringIO()
    Reporter(stream=err, tty=True, prefix="edgetl bench: ", style="dim").info("scoring [int8] on CPU")
    assert "edgetl bench: scoring [int8] on CPU" in err.getvalue()
    quiet = io.StringIO()
    Reporter(stream=quiet, tty=True, quiet=True, style="dim").info("hidden")
    assert quiet.getvalue() == ""
