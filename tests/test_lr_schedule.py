"""`python -m workshop train --lr-schedule cosine`: the learning rate falls from --learning-rate to 0 over the run."""

import contextlib
import io
import json
import math

import keras
import pytest

from workshop.data import SAMPLE_PATH
from workshop.instructor import cli
from workshop.instructor.config import TrainingConfig


def _train(out, *extra):
    argv = [
        "train",
        "--data",
        str(SAMPLE_PATH),
        "--num-train",
        "256",
        "--hidden-units",
        "16",
        "--latent-dim",
        "2",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--eval-images",
        "16",
        "--eval-samples",
        "2",
        "--quiet",
        "--output",
        str(out),
        *extra,
    ]
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, err.getvalue()


def test_cosine_schedule_runs_from_the_learning_rate_to_zero_and_is_recorded(tmp_path):
    code, err = _train(tmp_path / "run", "--learning-rate", "0.002", "--lr-schedule", "cosine")
    assert code == 0, err
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    steps = 2 * math.ceil(256 / 64)
    assert int(model.optimizer.iterations) == steps
    schedule = model.optimizer._learning_rate
    assert float(schedule(0)) == pytest.approx(0.002)
    assert float(schedule(steps // 2)) == pytest.approx(0.001, rel=1e-5)  # half way down the cosine
    assert float(schedule(steps)) == pytest.approx(0.0, abs=1e-9)  # the last steps are taken with a rate near 0
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert recorded["lr_schedule"] == "cosine"
    assert "--learning-rate 0.002 --lr-schedule cosine" in TrainingConfig.from_dict(recorded).command_line()


def test_constant_is_the_default_and_is_left_out_of_the_recorded_command(tmp_path):
    config = cli.config_from_args(cli.build_parser().parse_args(["train", "--epochs", "3"]))
    assert config.lr_schedule == "constant"
    assert config.command_line() == "python -m workshop train --epochs 3"


def test_unknown_schedule_is_a_one_line_usage_error(tmp_path):
    code, err = _train(tmp_path / "bad", "--lr-schedule", "linear")
    assert code == 2
    assert "--lr-schedule" in err and "cosine" in err
