"""Tests for the instructor CLI, ``python -m workshop train|evaluate|export|notebooks``, and the training library under it.

Runs are tiny (256 training images, one epoch, a small MLP) and read the MNIST
sample shipped with the package, so the tests never touch the network.
"""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from workshop.data import SAMPLE_PATH
from workshop.instructor import cli, training
from workshop.instructor.config import TrainingConfig

SAMPLE = str(SAMPLE_PATH)
SMALL = ["--data", SAMPLE, "--num-train", "256", "--hidden-units", "64,32", "--eval-images", "64", "--eval-samples", "5"]
HISTORY_KEYS = {"loss", "reconstruction_loss", "kl_loss", "val_loss", "val_reconstruction_loss", "val_kl_loss"}


def run_main(argv):
    """Call ``cli.main`` in this process; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    code, stdout, stderr = run_main(["train", *SMALL, "--epochs", "1", "--latent-dim", "2", "--output", str(out)])
    assert code == 0, stderr
    return out, stdout


def test_train_writes_the_run_folder(run_dir):
    out, stdout = run_dir
    for name in (
        "model.keras",
        "history.json",
        "config.json",
        "metrics.json",
        "curves.png",
        "reconstructions.png",
        "samples.png",
        "latent.png",
        "manifold.png",
    ):
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0, name
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]
    assert not (out / ".train.lock").exists()  # the run's lock is released when it ends

    history = json.loads((out / "history.json").read_text())
    assert set(history) == HISTORY_KEYS
    assert all(len(values) == 1 and isinstance(values[0], float) for values in history.values())

    config = json.loads((out / "config.json").read_text())
    assert config["status"] == "complete"
    # config.json stores the TrainingConfig itself, not the parsed command line
    assert set(config["config"]) == {f.name for f in __import__("workshop.instructor.config").instructor.config.fields()}
    assert config["config"]["latent_dim"] == 2 and config["config"]["hidden_units"] == [64, 32]
    assert TrainingConfig.from_dict(config["config"]).num_train == 256
    assert config["data"]["source"] == "file" and config["data"]["num_train"] == 256
    assert {"keras", "tensorflow", "numpy"} <= set(config["versions"])
    assert config["seconds"]["total"] > 0

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_images"] == 64 and metrics["num_samples"] == 5
    assert 0 < metrics["neg_elbo"] < 784 * 0.7  # better than coin flips (784 log 2 = 543 nats)
    assert len(metrics["kl_per_dimension"]) == 2

    assert "data: file" in stdout and "parameters" in stdout
    assert "Test -ELBO" in stdout and str(out) in stdout


def test_evaluate_reloads_the_model_and_reproduces_the_run_metrics(run_dir):
    out, _ = run_dir
    args = ["evaluate", str(out), "--data", SAMPLE, "--num-images", "64", "--num-samples", "5"]
    code, stdout, stderr = run_main(args)
    assert code == 0, stderr
    assert "test -ELBO" in stdout and "IWAE, K=5" in stdout and "active units" in stdout
    assert "binarize=random" in stdout  # read from the run's config.json

    code, stdout, stderr = run_main([*args, "--json"])
    assert code == 0, stderr
    result = json.loads(stdout)
    # Same images, same seed: the reloaded model gives the numbers the run wrote.
    saved = json.loads((out / "metrics.json").read_text())
    for key in ("neg_elbo", "log_likelihood", "kl"):
        assert result[key] == pytest.approx(saved[key], rel=1e-4), key
    assert result["active_units"] == saved["active_units"]

    # Giving the .keras file itself works too.
    code, _, stderr = run_main(["evaluate", str(out / "model.keras"), "--data", SAMPLE, "--num-images", "8", "--num-samples", "2"])
    assert code == 0, stderr


def test_existing_run_is_not_overwritten(run_dir):
    out, _ = run_dir
    before = (out / "model.keras").stat().st_mtime_ns
    code, _, stderr = run_main(["train", *SMALL, "--epochs", "1", "--output", str(out)])
    assert code == 1
    assert stderr.startswith("error: ") and "--overwrite" in stderr
    assert (out / "model.keras").stat().st_mtime_ns == before


def _corrupt_npz(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(SAMPLE_PATH.read_bytes()[:5000])
    return path


def _junk_keras(tmp_path):
    path = tmp_path / "junk.keras"
    path.write_text("not a model")
    return path


USAGE_ERRORS = {
    "unknown command": lambda tmp: ["frobnicate"],
    "no command": lambda tmp: [],
    "latent dim 0": lambda tmp: ["train", "--latent-dim", "0"],
    "negative epochs": lambda tmp: ["train", "--epochs", "-3"],
    "bad hidden units": lambda tmp: ["train", "--hidden-units", "512,x"],
    "unknown architecture": lambda tmp: ["train", "--architecture", "rnn"],
    "notebooks without a job": lambda tmp: ["notebooks"],
    "notebooks timeout 0": lambda tmp: ["notebooks", "run", "--timeout", "0"],
    "notebooks negative timeout": lambda tmp: ["notebooks", "run", "--timeout", "-5"],
    "export without a name": lambda tmp: ["export", str(tmp)],
}

FAILURES = {
    "missing model": lambda tmp: ["evaluate", str(tmp / "nowhere" / "model.keras")],
    "run folder without model": lambda tmp: ["evaluate", str(tmp)],
    "not a .keras file": lambda tmp: ["evaluate", SAMPLE],
    "corrupt .keras file": lambda tmp: ["evaluate", str(_junk_keras(tmp))],
    "corrupt data file": lambda tmp: ["train", "--data", str(_corrupt_npz(tmp)), "--output", str(tmp / "out")],
    "missing data file": lambda tmp: ["train", "--data", str(tmp / "mnist.npz"), "--output", str(tmp / "out")],
}


@pytest.mark.parametrize("case", [*USAGE_ERRORS, *FAILURES])
def test_errors_give_one_line_and_status_2_for_usage_1_for_failures(case, tmp_path):
    argv = (USAGE_ERRORS.get(case) or FAILURES[case])(tmp_path)
    code, stdout, stderr = run_main(argv)
    assert code == (2 if case in USAGE_ERRORS else 1), stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr + stdout
    assert not (tmp_path / "out").exists()  # nothing is created for a run that cannot start


def test_interrupted_run_keeps_model_and_history(tmp_path, monkeypatch):
    original = training.EpochCheckpoint.on_epoch_end

    def save_then_interrupt(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 0:
            raise KeyboardInterrupt  # what Ctrl-C raises

    monkeypatch.setattr(training.EpochCheckpoint, "on_epoch_end", save_then_interrupt)
    out = tmp_path / "run"
    code, _, stderr = run_main(["train", *SMALL, "--epochs", "3", "--no-jit", "--quiet", "--output", str(out)])
    assert code == 130
    assert f"interrupted after 1 epoch; saved to {out}" in stderr
    history = json.loads((out / "history.json").read_text())
    assert set(history) == HISTORY_KEYS and all(len(v) == 1 for v in history.values())
    assert json.loads((out / "config.json").read_text())["status"] == "interrupted"
    assert not (out / "metrics.json").exists()
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]
    model, _ = training.load_vae(out)  # the saved model is whole and loads
    assert model.latent_dim == 20


def test_notebooks_command_is_passed_through(monkeypatch):
    import workshop.instructor.authoring

    seen = []
    monkeypatch.setattr(
        workshop.instructor.authoring, "check", lambda solutions, notebooks: seen.append((solutions, notebooks)) or ["a problem"]
    )
    code, stdout, stderr = run_main(["notebooks", "check", "--solutions", "x"])
    assert code == 1 and seen == [("x", None)]
    assert stdout == "a problem\n" and stderr == "error: 1 problem(s) found.\n"


def test_conditional_vae_run(tmp_path):
    out = tmp_path / "cvae"
    code, stdout, stderr = run_main(["train", *SMALL, "--epochs", "1", "--latent-dim", "2", "--conditional", "--output", str(out)])
    assert code == 0, stderr
    assert "ConditionalVAE" in stdout
    for name in ("model.keras", "metrics.json", "samples.png", "latent.png", "manifold.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "config.json").read_text())["model_class"] == "ConditionalVAE"
    # evaluate passes the labels to a conditional model
    code, stdout, stderr = run_main(["evaluate", str(out), "--data", SAMPLE, "--num-images", "32", "--num-samples", "3", "--json"])
    assert code == 0, stderr
    assert json.loads(stdout)["num_images"] == 32


def test_module_entry_point(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}
    env.pop("MNIST_PATH", None)
    result = subprocess.run(
        [sys.executable, "-m", "workshop", "train", *SMALL, "--epochs", "1", "--output", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "val_kl_loss:" in result.stdout  # Keras reports the epoch (verbose=2 when stdout is not a terminal)
    assert f"saved to {out}" in result.stdout
    for name in ("model.keras", "history.json", "config.json", "metrics.json", "curves.png", "samples.png"):
        assert (out / name).is_file(), name
    assert not (out / "latent.png").exists()  # only drawn for a 2-d latent space


def test_bad_argument_from_the_shell_prints_exactly_one_line(tmp_path):
    # Regression: TensorFlow's C++ start-up lines (cudart_stub ...) surrounded the one-line error.
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "WORKSHOP_TF_STDERR")}
    result = subprocess.run(
        [sys.executable, "-m", "workshop", "train", "--latent-dim", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: argument --latent-dim: expected an integer >= 1. Received: '0'"]


# ----------------------------------------------------------- issue 11 regressions
def _strict_json(path):
    """Parse a file as standard JSON: NaN/Infinity tokens are refused."""

    def refuse(token):
        raise ValueError(f"{path}: non-standard JSON token {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_train_and_evaluate_is_callable_from_python(tmp_path):
    config = TrainingConfig(
        data=SAMPLE, num_train=128, hidden_units=(32,), latent_dim=2, epochs=1, jit=False, eval_images=16, eval_samples=2
    )
    result = training.train_and_evaluate(config, tmp_path / "run", quiet=True)
    assert result.output_dir == tmp_path / "run"
    assert 0 < result.metrics["neg_elbo"] < 784 * 0.7
    record = _strict_json(tmp_path / "run" / "config.json")
    assert record["status"] == "complete" and TrainingConfig.from_dict(record["config"]) == config
    assert record["command_line"] == config.command_line()


def test_concurrent_runs_get_unique_default_folders(tmp_path, monkeypatch):
    # Failure 2: runs started in the same second shared runs/<kind>-z<latent>-<timestamp>.
    stamp = tmp_path / "runs" / "mlp-z20-20260101-000000"
    monkeypatch.setattr(training, "default_run_dir", lambda config, root="runs": stamp)
    made, barrier = [], threading.Barrier(6)

    def start():
        barrier.wait()
        made.append(training.create_run_dir(None, TrainingConfig()))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 6 and all(path.is_dir() for path in made)
    assert sorted(p.name for p in made)[0] == stamp.name  # the first keeps the plain name, the others get -2, -3, ...


def test_output_folder_with_user_files_is_refused_without_overwrite(tmp_path):
    # Failure 4: only model.keras was guarded; a user's own config.json and figures were replaced.
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.json").write_text("my own notes")
    (out / "curves.png").write_bytes(b"my figure")
    code, stdout, stderr = run_main(["train", *SMALL, "--epochs", "1", "--no-jit", "--output", str(out)])
    assert code == 1
    assert stderr.startswith("error: ") and "not empty" in stderr and "--overwrite" in stderr and len(stderr.splitlines()) == 1
    assert (out / "config.json").read_text() == "my own notes" and (out / "curves.png").read_bytes() == b"my figure"
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "curves.png"]


def test_diverging_run_stops_with_one_line_and_leaves_valid_json(tmp_path):
    # Failure 3: NaN only in the progress line, then "Expected finite values in `z`", status "running",
    # NaN tokens in metrics.json and a NaN model that `evaluate` reported with exit 0.
    out = tmp_path / "diverged"
    argv = ["train", *SMALL, "--epochs", "2", "--no-jit", "--quiet", "--likelihood", "gaussian", "--sigma", "1e-30", "--output", str(out)]
    code, stdout, stderr = run_main(argv)
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: training diverged"), stderr
    assert "--learning-rate" in lines[0] and "Expected finite values" not in stderr
    assert _strict_json(out / "config.json")["status"] == "diverged"
    for path in out.glob("*.json"):
        _strict_json(path)
    assert not (out / "metrics.json").exists()
    assert not (out / "model.keras").exists()  # no NaN model is saved


def test_evaluate_refuses_a_model_with_non_finite_weights(tmp_path):
    from workshop.models import VAE

    model = VAE(latent_dim=2, hidden_units=(8,), seed=0)
    weights = model.get_weights()
    weights[0][0, 0] = np.nan
    model.set_weights(weights)
    model.save(tmp_path / "model.keras")
    code, stdout, stderr = run_main(["evaluate", str(tmp_path), "--data", SAMPLE, "--num-images", "8", "--num-samples", "2"])
    assert code == 1
    assert stderr.startswith("error: ") and "NaN or infinite weights" in stderr and len(stderr.splitlines()) == 1
    assert stdout == ""


def test_sigterm_to_train_is_handled_like_ctrl_c(tmp_path):
    # Failure 7: SIGTERM left config.json at "running" with no message.
    out = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}
    process = subprocess.Popen(
        [sys.executable, "-m", "workshop", "train", *SMALL, "--epochs", "100000", "--no-jit", "--quiet", "--output", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 240
        while not (out / "history.json").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: terminated (SIGTERM) after"), stderr
    assert _strict_json(out / "config.json")["status"] == "interrupted"
    training.load_vae(out)  # the model of the last completed epoch is whole


def test_export_is_the_instructor_command_and_the_library_points_to_it(tmp_path):
    code, _, stderr = run_main(["export", str(tmp_path / "no-run"), "tiny"])
    assert code == 1 and "Missing" in stderr and len(stderr.splitlines()) == 1
    from workshop import pretrained

    # The students' library no longer imports the instructor's command line (no import cycle):
    # `python -m workshop.pretrained export` is a usage error that names the command to use.
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert pretrained.main(["export", str(tmp_path / "no-run"), "tiny"]) == 2
    assert "python -m workshop export" in err.getvalue()
