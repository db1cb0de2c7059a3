"""Nothing an instructor made is lost or replaced by ``python -m workshop`` without an explicit flag.

Each test is a regression test of one failure instructors met: a shipped model
replaced by ``export``, a recorded K = 5,000 likelihood replaced by a quick
check, ``site build`` deleting a folder it did not make, ``train --overwrite``
deleting the files of a run still training, a multi-worker run waiting forever,
a missing input file that exited 0. The shipped files are never modified here:
the tests work on copies (the module's folder is monkeypatched) and check that
the originals' bytes are unchanged.
"""

import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import REPO

from workshop import pretrained
from workshop.data import SAMPLE_PATH
from workshop.instructor import cli, export, grading, site, training
from workshop.instructor.runlock import LOCK_FILE, RunLock

SAMPLE = str(SAMPLE_PATH)
SMALL = ["--data", SAMPLE, "--num-train", "256", "--hidden-units", "64,32", "--eval-images", "64", "--eval-samples", "5"]
MODEL = "vae_mnist_z2"


def run_main(argv):
    """Call ``cli.main`` in this process; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def one_error_line(stderr):
    """The single ``error: ...`` line of stderr (progress lines before it are allowed)."""
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def shipped_digests():
    """The sha256 of every shipped pretrained file, checked unchanged after the test."""
    real = pretrained.PRETRAINED_DIR  # the module's value may be monkeypatched by the time this is torn down
    before = {p.name: digest(p) for p in real.iterdir() if p.is_file()}
    yield before
    after = {p.name: digest(p) for p in real.iterdir() if p.is_file()}
    assert after == before, "a test changed workshop/pretrained/"


@pytest.fixture
def models(tmp_path, monkeypatch, shipped_digests):
    """A copy of the shipped pretrained folder, which the commands use instead of the real one."""
    copy = tmp_path / "pretrained"
    shutil.copytree(pretrained.PRETRAINED_DIR, copy)
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", copy)
    monkeypatch.setattr(export, "PRETRAINED_DIR", copy)
    return copy


@pytest.fixture
def small_mnist(tmp_path):
    """A 64-image MNIST file in Keras's layout: 'the full MNIST' as far as the commands can tell."""
    path = tmp_path / "mnist.npz"
    with np.load(SAMPLE) as data:
        np.savez(path, **{k: data[k][:64] for k in ("x_train", "y_train", "x_test", "y_test")})
    return path


def make_run(folder, status="complete"):
    """A run folder as `train` leaves it (a small untrained VAE), with ``status`` in config.json (None: no status)."""
    from workshop.models import VAE

    folder.mkdir(parents=True)
    VAE(latent_dim=2, hidden_units=(8,), seed=1).save(folder / "model.keras")
    record = {"config": {"latent_dim": 2, "hidden_units": [8]}, "epochs_completed": 1}
    if status is not None:
        record["status"] = status
    (folder / "config.json").write_text(json.dumps(record))
    return folder


# --------------------------------------------------------------------- export
def test_export_never_replaces_a_shipped_model_without_force(tmp_path, models, small_mnist):
    run = make_run(tmp_path / "run")
    before = {suffix: (models / f"{MODEL}{suffix}").read_bytes() for suffix in (".npz", ".json")}
    code, stdout, stderr = run_main(["export", str(run), MODEL, "--data", str(small_mnist)])
    assert code == 1
    line = one_error_line(stderr)
    assert MODEL in line and "--force" in line and "exist" in line
    for suffix, data in before.items():
        assert (models / f"{MODEL}{suffix}").read_bytes() == data
    assert not [p.name for p in models.iterdir() if ".tmp" in p.name]
    # the same with --output naming the folder that holds the model
    code, _, stderr = run_main(["export", str(run), MODEL, "--data", str(small_mnist), "--output", str(models)])
    assert code == 1 and "--force" in one_error_line(stderr)
    assert (models / f"{MODEL}.npz").read_bytes() == before[".npz"]

    code, stdout, stderr = run_main(["export", str(run), MODEL, "--data", str(small_mnist), "--force", "--quiet"])
    assert code == 0, stderr
    assert stderr == ""  # --quiet: no progress lines
    assert (models / f"{MODEL}.npz").read_bytes() != before[".npz"]
    meta = json.loads((models / f"{MODEL}.json").read_text())
    assert meta["weights"]["sha256"] == digest(models / f"{MODEL}.npz")  # both files replaced together
    pretrained.load_pretrained(MODEL, models)


@pytest.mark.parametrize("status", ["interrupted", "diverged", "running", None])
def test_export_refuses_an_unfinished_run_unless_asked(tmp_path, status, small_mnist):
    run = make_run(tmp_path / "run", status=status)
    out = tmp_path / "out"
    code, _, stderr = run_main(["export", str(run), "tiny", "--data", str(small_mnist), "--output", str(out)])
    assert code == 1
    line = one_error_line(stderr)
    assert "--allow-unfinished" in line and repr(status) in line and "complete" in line
    assert not out.exists()
    code, _, stderr = run_main(["export", str(run), "tiny", "--data", str(small_mnist), "--output", str(out), "--allow-unfinished"])
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["tiny.json", "tiny.npz"]
    assert json.loads((out / "tiny.json").read_text())["training"]["status"] == status


def test_export_prints_its_steps_on_stderr(tmp_path, small_mnist):
    run = make_run(tmp_path / "run")
    code, stdout, stderr = run_main(["export", str(run), "tiny", "--data", str(small_mnist), "--output", str(tmp_path / "out")])
    assert code == 0, stderr
    assert "export: measuring" in stderr and "export: wrote" in stderr
    assert stdout.startswith("wrote tiny.npz and tiny.json")


# ----------------------------------------------------------------- likelihood
@pytest.fixture
def no_measurement(monkeypatch):
    """Make the slow measurement fail the test if it starts."""
    from workshop import evaluation

    def refuse(*args, **kwargs):
        raise AssertionError("the measurement started before the refusal")

    monkeypatch.setattr(evaluation, "importance_log_weights", refuse)


def test_a_quick_likelihood_check_never_replaces_the_recorded_measurement(models, small_mnist, no_measurement):
    path = models / pretrained.LIKELIHOODS_FILE
    before = path.read_bytes()
    recorded = json.loads(before)[MODEL]
    assert recorded["num_samples"] == 5000 and recorded["num_images"] == 10000
    code, stdout, stderr = run_main(["likelihood", MODEL, "--num-samples", "2", "--num-images", "100", "--data", str(small_mnist)])
    assert code == 1
    line = one_error_line(stderr)
    assert str(path) in line and "K=5000 on 10000 images" in line and "K=2 on 64 images" in line and "--force" in line
    assert path.read_bytes() == before


def test_likelihood_force_replaces_only_that_entry(models, small_mnist):
    path = models / pretrained.LIKELIHOODS_FILE
    before = json.loads(path.read_text())
    argv = ["likelihood", MODEL, "--num-samples", "2", "--num-images", "20", "--data", str(small_mnist), "--force"]
    code, stdout, stderr = run_main(argv)
    assert code == 0, stderr
    assert "likelihood: 20/20 images" in stderr  # progress on stderr
    after = json.loads(path.read_text())
    assert after[MODEL]["num_samples"] == 2 and after[MODEL]["num_images"] == 20
    assert {k: v for k, v in after.items() if k != MODEL} == {k: v for k, v in before.items() if k != MODEL}
    # the same or a larger measurement needs no flag
    code, _, stderr = run_main([*argv[:-1], "--quiet"])
    assert code == 0 and stderr == "", stderr


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"vae_mnist_z2": {"num_samples": 5000,', "invalid JSON"),
        ('[{"vae_mnist_z2": 1}]', "Received: a JSON list"),
        ('{"vae_mnist_z2": [1, 2]}', "expected the entry 'vae_mnist_z2'"),
    ],
)
def test_a_damaged_likelihoods_file_is_named_before_anything_is_measured(models, small_mnist, no_measurement, text, expected):
    path = models / pretrained.LIKELIHOODS_FILE
    path.write_text(text)
    code, stdout, stderr = run_main(["likelihood", MODEL, "--num-samples", "2", "--num-images", "10", "--data", str(small_mnist)])
    assert code == 1
    line = one_error_line(stderr)
    assert str(path) in line and expected in line
    assert path.read_text() == text


# ----------------------------------------------------------------------- site
@pytest.fixture
def fake_sphinx(monkeypatch):
    """Sphinx replaced by a stand-in that writes a minimal site (the real build takes a minute)."""
    import sphinx.cmd.build

    calls = []

    def build_main(argv):
        source, out = argv[-2], argv[-1]
        calls.append({"source": source, "doctrees": argv[argv.index("-d") + 1], "listing": sorted(os.listdir(source))})
        os.makedirs(out, exist_ok=True)
        for name in ("index.html", site.BUILD_MARKER):
            with open(os.path.join(out, name), "w") as handle:
                handle.write("built\n")
        return 0

    monkeypatch.setattr(sphinx.cmd.build, "build_main", build_main)
    return calls


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    import nbformat

    root = tmp_path / "repo"
    for folder in ("solutions", "notebooks"):
        (root / folder).mkdir(parents=True)
    shutil.copytree(REPO / "site", root / "site")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 · Alpha\n\nIntro.")]
    for folder in ("solutions", "notebooks"):
        nbformat.write(nb, str(root / folder / "01_alpha.ipynb"))
    monkeypatch.setattr(site, "_root", lambda: root)
    return root


def test_site_build_leaves_a_folder_it_did_not_make_alone(tmp_path, fake_repo, fake_sphinx):
    out = tmp_path / "www" / "site"
    theirs = tmp_path / "www" / "site-src"  # the name the old staging folder had
    theirs.mkdir(parents=True)
    (theirs / "notes.md").write_text("my notes")
    doctrees = tmp_path / "www" / "site-doctrees"
    doctrees.mkdir()
    (doctrees / "keep.txt").write_text("mine")
    code, stdout, stderr = run_main(["site", "build", "--output", str(out)])
    assert code == 0, stderr
    assert (theirs / "notes.md").read_text() == "my notes" and sorted(os.listdir(theirs)) == ["notes.md"]
    assert sorted(os.listdir(doctrees)) == ["keep.txt"]
    (call,) = fake_sphinx
    assert "01_alpha.ipynb" in call["listing"]
    assert not os.path.exists(call["source"]) and not os.path.exists(call["doctrees"])  # its own temporary folder, removed
    assert sorted(os.listdir(tmp_path / "www")) == ["site", "site-doctrees", "site-src"]
    assert "site: staged 01_alpha.ipynb" in stderr and "site: running Sphinx" in stderr  # a line per step
    code, _, stderr = run_main(["site", "build", "--output", str(out), "--quiet"])  # a site built before: rebuilt in place
    assert code == 0 and stderr == "", stderr


def test_site_build_refuses_an_output_folder_holding_other_files(tmp_path, fake_repo, fake_sphinx):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "index.html").write_text("my own page")
    code, _, stderr = run_main(["site", "build", "--out", str(out)])  # the old spelling of --output
    assert code == 1
    assert "choose another --output" in one_error_line(stderr)
    assert (out / "index.html").read_text() == "my own page" and not fake_sphinx


def test_site_errors_are_failures_with_status_1(tmp_path, fake_repo):
    shutil.rmtree(fake_repo / "solutions")
    code, _, stderr = run_main(["site", "build", "--output", str(tmp_path / "out")])
    assert code == 1 and one_error_line(stderr).startswith("error: expected executed notebooks")
    code, _, stderr = run_main(["site", "serve", "--dir", str(tmp_path / "nowhere"), "--port", "0"])
    assert code == 1 and "index.html" in one_error_line(stderr)


# ---------------------------------------------------------------------- train
def _fake_run_files(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("model.keras", "history.json", "config.json"):
        (folder / name).write_text(f"the {name} of a run in progress")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_overwrite_is_refused_while_the_folder_is_locked_by_a_live_run(tmp_path):
    out = tmp_path / "run"
    files = _fake_run_files(out)
    with RunLock(out):  # as the running `train` holds it
        code, stdout, stderr = run_main(["train", *SMALL, "--epochs", "1", "--overwrite", "--output", str(out)])
        assert code == 1
        line = one_error_line(stderr)
        assert f"is being trained by process {os.getpid()}" in line and "--output" in line
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != LOCK_FILE} == files
        with pytest.raises(training.RunFolderBusy):
            training.claim_run_dir(out, overwrite=True)
    assert not (out / LOCK_FILE).exists()  # released


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "run"
    _fake_run_files(out)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK_FILE).write_text(f"{dead.pid}\n")
    claimed, lock = training.claim_run_dir(out, overwrite=True)
    try:
        assert claimed == out and lock.took_over == dead.pid
        assert (out / LOCK_FILE).read_text().strip() == str(os.getpid())
        assert not (out / "model.keras").exists()  # --overwrite replaced the run files
    finally:
        lock.release()
    assert not (out / LOCK_FILE).exists()


def test_overwrite_never_touches_a_run_that_is_still_training(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "workshop", "train", *SMALL, "--epochs", "100000", "--no-jit", "--quiet"]
    process = subprocess.Popen([*command, "--output", str(out)], stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 240
        while not (out / "history.json").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert process.poll() is None, process.communicate()
        assert (out / LOCK_FILE).read_text().strip() == str(process.pid)
        model_before = (out / "model.keras").stat().st_size
        code, _, stderr = run_main(["train", *SMALL, "--epochs", "1", "--overwrite", "--output", str(out)])
        assert code == 1
        assert f"is being trained by process {process.pid}" in one_error_line(stderr)
        # the first run goes on undisturbed: its files are there and it is still running
        assert (out / "model.keras").stat().st_size > 0 and model_before > 0
        assert json.loads((out / "config.json").read_text())["status"] == "running"
        assert process.poll() is None
    finally:
        process.kill()  # as a crash would: the lock file stays behind, its process gone
        process.communicate()
    claimed, lock = training.claim_run_dir(out, overwrite=True)  # a stale lock is taken over
    try:
        assert lock.took_over == process.pid
    finally:
        lock.release()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("index", [0, 1], ids=["leader waits for worker 1", "worker 1 waits for the leader"])
def test_a_worker_that_never_comes_ends_the_run_with_one_line(tmp_path, index):
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}  # nobody listens on the other
    env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
    out = tmp_path / "run"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "workshop", "train", *SMALL, "--epochs", "1", "--strategy", "multiworker"]
        + ["--worker-timeout", "3", "--output", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,  # hung forever before
    )
    seconds = time.monotonic() - started
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    other = cluster["worker"][1 - index]
    assert lines[0].lower().startswith("error: expected every worker of tf_config to join the cluster within 3 s (--worker-timeout)")
    assert other in lines[0]
    assert not out.exists()  # nothing is written for a cluster that never formed
    print(f"gave up after {seconds:.1f} s")


# ------------------------------------------------------------ missing inputs
MISSING = {
    "train --data": lambda tmp: ["train", "--data", str(tmp / "mnist.npz"), "--output", str(tmp / "out")],
    "evaluate MODEL": lambda tmp: ["evaluate", str(tmp / "model.keras")],
    "export RUN_DIR": lambda tmp: ["export", str(tmp / "run"), "tiny", "--output", str(tmp / "out")],
    "likelihood --data": lambda tmp: ["likelihood", MODEL, "--data", str(tmp / "mnist.npz"), "--num-images", "10"],
    "notebooks build --solutions": lambda tmp: ["notebooks", "build", "--solutions", str(tmp / "sol"), "--notebooks", str(tmp / "out")],
    "notebooks check --solutions": lambda tmp: ["notebooks", "check", "--solutions", str(tmp / "sol"), "--notebooks", str(tmp / "nb")],
    "notebooks run --solutions": lambda tmp: ["notebooks", "run", "--solutions", str(tmp / "sol")],
    "notebooks grade SUBMISSION": lambda tmp: ["notebooks", "grade", str(tmp / "alice.ipynb"), "--output", str(tmp / "out")],
    "notebooks grade --solutions": lambda tmp: [
        "notebooks",
        "grade",
        str(REPO / "notebooks" / "01_probability_toolkit.ipynb"),
        "--solutions",
        str(tmp / "sol"),
        "--output",
        str(tmp / "out"),
    ],
    "site serve --dir": lambda tmp: ["site", "serve", "--dir", str(tmp / "site")],
}


@pytest.mark.parametrize("case", MISSING)
def test_a_missing_input_file_is_status_1_with_one_line(case, tmp_path, models):
    code, stdout, stderr = run_main(MISSING[case](tmp_path))
    assert code == 1, (stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert str(tmp_path) in lines[0] or case == "evaluate MODEL" and "model not found" in lines[0]
    assert not (tmp_path / "out").exists()  # nothing was created


def test_grade_never_replaces_earlier_reports_without_force(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "grades.csv").write_text("student,grade\nalice,A (checked by hand)\n")
    submission = tmp_path / "alice.ipynb"
    submission.write_text("not a notebook")
    code, _, stderr = run_main(["notebooks", "grade", str(submission), "--output", str(out)])
    assert code == 1
    assert "--force" in one_error_line(stderr) and "grades.csv" in stderr
    assert (out / "grades.csv").read_text() == "student,grade\nalice,A (checked by hand)\n"
    assert sorted(os.listdir(out)) == ["grades.csv"]
    code, stdout, stderr = run_main(["notebooks", "grade", str(submission), "--output", str(out), "--force"])
    assert code == 1, stderr  # the class's only file is not a notebook: nothing could be graded
    assert "[1/1] grading" in stderr  # progress on stderr
    assert stderr.strip().splitlines()[-1].startswith("error: none of the 1 submission(s) could be graded")
    assert sorted(os.listdir(out)) == sorted(grading.REPORT_FILES)  # the reports say so all the same


def test_errors_start_lower_case_and_name_what_was_expected(tmp_path):
    code, _, stderr = run_main(["export", str(tmp_path / "no-run"), "tiny"])
    assert code == 1 and one_error_line(stderr).startswith("error: expected a run folder")
    assert cli._one_line(ValueError("Sphinx failed")) == "Sphinx failed"
    assert cli._one_line(ValueError("/tmp/x.json: expected")) == "/tmp/x.json: expected"
    assert cli._one_line(ValueError("TF_CONFIG is missing")) == "TF_CONFIG is missing"
