"""Small shared test utilities (not tests)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "workshop" / "data" / "mnist_sample.npz"


def sample_images(n=64, seed=0, binary=True):
    """The first n training images of the shipped sample, as (n, 28, 28, 1) float32."""
    with np.load(SAMPLE) as data:
        x = data["x_train"][:n].astype("float32")[..., None] / 255.0
    if binary:
        x = (np.random.default_rng(seed).random(x.shape) < x).astype("float32")
    return x


def loss_input_spy(batch_shape, **kwargs):
    """A VAE whose training steps keep the images they put into the loss (after any binarization), and a list of them.

    Returns ``(model, seen)``: compile with ``steps_per_execution=1`` and train with ``callbacks=[model.record]``;
    ``seen`` then holds one NumPy array per training step. Batches must have ``batch_shape``.
    """
    import keras
    import tensorflow as tf

    from workshop import VAE

    last = tf.Variable(tf.zeros(batch_shape), trainable=False)  # outside the model: no change to its weights
    seen = []

    class LossInputSpy(VAE):
        def compute_loss_terms(self, x, condition=None, training=False):
            if training:
                last.assign(x)
            return super().compute_loss_terms(x, condition, training)

    model = LossInputSpy(**kwargs)
    model.record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(last.numpy().copy()))
    return model, seen


def assert_fresh_binary_draws(draws, grey):
    """Each step's images (``draws``, one array per step) are binary pixels drawn with the grey levels of ``grey``
    (a batch of one image repeated) as probabilities, and no step repeats another's draw."""
    grey = np.asarray(grey)[0]
    for step, pixels in enumerate(draws):
        fractional = int(np.sum((pixels != 0) & (pixels != 1)))
        assert fractional == 0, f"step {step} trained on {fractional} grey pixels"
    pixels = np.concatenate(draws)
    assert (pixels[:, grey == 0] == 0).all() and (pixels[:, grey == 1] == 1).all()
    assert abs(pixels.mean() - grey.mean()) < 0.01, (pixels.mean(), grey.mean())  # Bernoulli(grey) pixels
    for i in range(len(draws)):  # the same image in every row: a reused draw would repeat a whole batch
        for j in range(i):
            same = np.array_equal(draws[i], draws[j])
            assert not same, f"steps {j} and {i} trained on the same pixels"


PHILOX = 1  # TensorFlow's number for the Philox algorithm (auto-select is 3)


def random_ops_of_train_step(model, batch_shape):
    """``[(op type, algorithm)]`` of every random op in ``model.train_step`` as ``fit`` compiles it (traced, not run).

    The algorithm is the constant ``alg`` input of TensorFlow's stateless V2 ops, else None (stateful ops, and the
    ``StatelessRandomGetKeyCounter`` that an auto-selected algorithm adds).
    """
    import tensorflow as tf

    if not model.compiled:
        model.compile()
    model.optimizer.build(model.trainable_variables)
    graph = tf.function(model.train_step, jit_compile=True).get_concrete_function(tf.TensorSpec(batch_shape, tf.float32)).graph
    found = []
    for op in graph.get_operations():
        if "Random" not in op.type and "Rng" not in op.type:
            continue
        inputs = dict(zip([arg.name for arg in op.op_def.input_arg], op.inputs))
        alg = inputs.get("alg")
        found.append((op.type, int(tf.make_ndarray(alg.op.get_attr("value"))) if alg is not None and alg.op.type == "Const" else None))
    return found


def run_python(code, timeout=300, env=None):
    """Run `code` in a fresh interpreter (the same venv) and return its stdout; fail with its stderr."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=full_env, cwd=REPO)
    if result.returncode != 0:
        raise AssertionError(f"subprocess failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code.")


def assert_checker_contract(check, reference, mistakes, perturb):
    """The contract every exercise checker keeps: the reference passes, the stub is 'not implemented',
    each listed mistake (at least two) gets its own hint, and an unlisted wrong answer is 'wrong'."""

    def run(fn):
        return check(fn, verbose=False, strict=False)

    assert run(reference).status == "passed"
    assert run(_stub).status == "not_implemented"
    assert len(mistakes) >= 2
    for hint, wrong_fn in mistakes:
        result = run(wrong_fn)
        assert result.status == "mistake", (hint, result.message)
        assert result.details["hint"] == hint
    result = run(lambda *args, **kwargs: perturb(reference(*args, **kwargs)))
    assert result.status == "wrong", result.message


# --------------------------------------------------------------------------- #
# Catalogues of plausible answers, written as students write them
# --------------------------------------------------------------------------- #
def assert_one_line_verdict(result, printed=""):
    """A verdict a student can read: one line, no traceback, no NumPy reprs, no warnings printed above it,
    and an "(at `...`)" location that quotes a line of the student's code, never a library's."""
    message = result.message
    assert "\n" not in message, message
    assert "Traceback" not in message and "Traceback" not in printed, message
    assert "np.float" not in message and "np.int" not in message, message
    assert "RuntimeWarning" not in printed and "Warning:" not in printed, printed
    assert len(message) <= 800, message
    if "(at `" in message:
        quoted = message.split("(at `", 1)[1].split("`", 1)[0]
        assert not any(word in quoted for word in ("site-packages", "tensorflow/", "keras/src", "numpy/")), quoted


def run_catalogue(check, wrong, right, capsys=None):
    """Run ``check`` on each wrong and each right answer; return (caught, accepted, failures).

    ``wrong`` and ``right`` map a short name to the student's answer. A wrong answer is
    caught when the check does not pass and its verdict is one readable line; a right
    answer is accepted when the check passes.
    """
    failures, caught, accepted = [], 0, 0
    for expect_pass, catalogue in ((False, wrong), (True, right)):
        for name, answer in catalogue.items():
            if capsys is not None:
                capsys.readouterr()
            result = check(answer, verbose=False, strict=False)
            printed = "" if capsys is None else "".join(capsys.readouterr())
            try:
                assert_one_line_verdict(result, printed)
            except AssertionError as error:
                failures.append(f"{name}: unreadable verdict: {error}")
                continue
            if expect_pass and result.passed:
                accepted += 1
            elif not expect_pass and not result.passed:
                caught += 1
            else:
                failures.append(f"{name}: {result.message}")
    return caught, accepted, failures


def assert_catalogue(check, wrong, right, capsys=None):
    """Every wrong answer caught with a one-line verdict, every right answer accepted."""
    assert len(wrong) >= 5 and len(right) >= 2
    caught, accepted, failures = run_catalogue(check, wrong, right, capsys)
    assert not failures, "\n".join(failures)
    assert (caught, accepted) == (len(wrong), len(right))
