"""``import workshop`` keeps XLA:CPU away from YNNPACK fusions (see ``workshop.settings.avoid_ynn_fusions``).

TensorFlow 2.21 compiled the per-image sums of the training step into YNN fusions, whose
executables are rebuilt at every call of the compiled step through unguarded shared state;
two threads doing so at once crashed the process (a segmentation fault, caught under gdb in
``xla::cpu::EmitYnnSubgraph`` while a second thread was building too).
"""

import os

from helpers import run_python

from workshop import settings

FLAG = "--xla_cpu_experimental_ynn_fusion_type="


def test_the_flag_is_added_to_xla_flags_and_a_users_own_setting_is_kept(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert settings.avoid_ynn_fusions("2.21.0")
    assert os.environ["XLA_FLAGS"] == FLAG
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    assert settings.avoid_ynn_fusions("2.21.3")
    assert os.environ["XLA_FLAGS"].split() == ["--xla_dump_to=/tmp/x", FLAG]
    settings.avoid_ynn_fusions("2.21.3")  # once only
    assert os.environ["XLA_FLAGS"].split() == ["--xla_dump_to=/tmp/x", FLAG]
    own = "--xla_cpu_experimental_ynn_fusion_type=individual_dot --xla_dump_to=/tmp/x"
    monkeypatch.setenv("XLA_FLAGS", own)
    assert settings.avoid_ynn_fusions("2.21.0")
    assert os.environ["XLA_FLAGS"] == own


def test_other_tensorflow_releases_are_left_alone(monkeypatch):
    # XLA aborts on a flag it does not know: only releases checked to have it get it.
    for version in ("2.20.0", "2.22.0rc1", "3.0.0", "garbage"):
        monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
        assert not settings.avoid_ynn_fusions(version)
        assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/x"


def test_import_workshop_sets_the_flag_for_the_installed_tensorflow():
    code = "import os, tensorflow, workshop\nprint(tensorflow.__version__ + '|' + os.environ.get('XLA_FLAGS', ''))\n"
    stdout = run_python(code, timeout=120, env={"XLA_FLAGS": ""})  # not this process's flags, which import workshop set
    version, flags = stdout.splitlines()[-1].split("|")
    expected = [FLAG] if version.startswith("2.21.") else []
    assert flags.split() == expected, (version, flags)


def test_the_compiled_training_step_has_no_ynn_fusion(tmp_path):
    code = (
        "import numpy as np\n"
        "from workshop import VAE\n"
        "x = (np.random.default_rng(0).random((256, 784)) > 0.5).astype('float32')\n"
        "model = VAE(latent_dim=4, hidden_units=(32,), seed=0)\n"
        "model.compile()\n"
        "model.fit(x, epochs=1, batch_size=64, verbose=0)\n"
    )
    run_python(code, timeout=240, env={"XLA_FLAGS": f"--xla_dump_to={tmp_path} --xla_dump_hlo_as_text"})
    compiled = [p.read_text() for p in tmp_path.glob("*cpu_after_optimizations.txt")]
    steps = [text for text in compiled if "one_step_on_data" in text.splitlines()[0]]
    assert steps, sorted(p.name for p in tmp_path.iterdir())[:10]
    for text in steps:
        assert " reduce(" in text  # the step's sums are there, compiled by XLA itself
        assert "__ynn_fusion" not in text
