"""Tests for the exercise-checker core on a toy exercise: KL(N(mu, var) || N(0, 1))."""

import numpy as np
import pytest

from workshop import checks
from workshop.checks import _core


def reference(mu, log_var):
    return 0.5 * np.sum(np.exp(log_var) + mu**2 - 1.0 - log_var, axis=-1)


def used_log_sigma(mu, log_var):
    # log(sigma) plugged in where log(sigma^2) belongs.
    return 0.5 * np.sum(np.exp(2 * log_var) + mu**2 - 1.0 - 2 * log_var, axis=-1)


def forgot_the_half(mu, log_var):
    return np.sum(np.exp(log_var) + mu**2 - 1.0 - log_var, axis=-1)


MISTAKES = [
    ("looks like you used log(sigma) where log(sigma^2) is meant.", used_log_sigma),
    ("the factor 1/2 in front of the sum is missing.", forgot_the_half),
]
CASES = [
    (np.zeros(3), np.zeros(3)),
    (np.array([0.5, -1.0]), np.array([0.3, -0.2])),
    {"mu": np.array([[0.1, 0.2], [1.0, -2.0]]), "log_var": np.array([[0.0, 1.0], [-1.0, 0.5]])},
]


def run(student_fn, **kwargs):
    kwargs.setdefault("verbose", False)
    kwargs.setdefault("strict", False)
    return checks.check_function("kl_toy", student_fn, reference, CASES, mistakes=MISTAKES, **kwargs)


def test_reference_passes_and_prints_one_line(capsys):
    result = run(reference, verbose=True)
    assert result.status == "passed" and result.passed and bool(result)
    assert capsys.readouterr().out == "[passed] kl_toy: matches the reference on 3 cases.\n"


def test_stub_is_not_implemented_with_a_single_line(capsys):
    def stub(mu, log_var):
        raise NotImplementedError("Exercise kl_toy: replace this line with your code.")

    result = run(stub, verbose=True)
    assert result.status == "not_implemented" and not result
    out = capsys.readouterr().out
    assert out == ("[not implemented yet] kl_toy: replace the `raise NotImplementedError` line with your code, then run this cell again.\n")


def test_stub_of_another_exercise_is_named():
    def uses_unfinished_helper(mu, log_var):
        raise NotImplementedError("Exercise gaussian_entropy: replace this line.")

    result = run(uses_unfinished_helper)
    assert result.status == "not_implemented"
    assert "Exercise gaussian_entropy" in result.message


@pytest.mark.parametrize("wrong_fn, hint", [(used_log_sigma, "log(sigma^2)"), (forgot_the_half, "1/2")])
def test_typical_mistakes_get_their_hint(wrong_fn, hint):
    result = run(wrong_fn)
    assert result.status == "mistake"
    assert hint in result.message and result.message.startswith("[not quite] kl_toy:")
    # The all-zero case cannot tell these mistakes apart from the reference.
    assert result.details["case"] == 1


def test_generic_wrong_answer_shows_case_expected_and_received():
    result = run(lambda mu, log_var: reference(mu, log_var) + 0.25)
    assert result.status == "wrong"
    assert "case 1 of 3" in result.message
    assert "expected 0, received 0.25" in result.message


def test_exception_is_reported_with_type_message_and_case():
    def broken(mu, log_var):
        return mu[5] + log_var

    result = run(broken)
    assert result.status == "error"
    assert "IndexError" in result.message and "index 5 is out of bounds" in result.message
    assert "case 1: kl_toy(" in result.message
    assert "`return mu[5] + log_var`" in result.message


def test_mean_instead_of_sum_is_a_shape_or_value_mismatch():
    no_reduction = run(lambda mu, log_var: 0.5 * (np.exp(log_var) + mu**2 - 1.0 - log_var))
    assert no_reduction.status == "wrong"
    assert "shape mismatch: expected shape (), received shape (3,)" in no_reduction.message
    averaged = run(lambda mu, log_var: 0.5 * np.mean(np.exp(log_var) + mu**2 - 1.0 - log_var, axis=-1))
    assert averaged.status == "wrong" and "expected" in averaged.message


def test_student_cannot_corrupt_the_reference_inputs():
    def mutates(mu, log_var):
        value = reference(mu, log_var)
        mu += 100.0
        return value

    assert run(mutates).status == "passed"


def test_keras_tensors_and_tuples_compare_as_arrays():
    keras = pytest.importorskip("keras")

    def as_tensor(mu, log_var):
        return keras.ops.convert_to_tensor(reference(mu, log_var).astype("float32"))

    assert run(as_tensor).passed
    pair = checks.check_function(
        "pair",
        lambda x: (x, keras.ops.convert_to_tensor(2 * x)),
        lambda x: (x, 2 * x),
        [(np.arange(3.0),)],
        verbose=False,
        strict=False,
    )
    assert pair.passed
    short = checks.check_function("pair", lambda x: (x,), lambda x: (x, 2 * x), [(np.arange(3.0),)], verbose=False, strict=False)
    assert short.status == "wrong" and "expected 2 values, received 1" in short.message


def test_strict_mode_raises_after_printing(monkeypatch, capsys):
    monkeypatch.setenv("WORKSHOP_STRICT_CHECKS", "1")
    with pytest.raises(checks.CheckFailed, match=r"\[not quite\] kl_toy"):
        run(used_log_sigma, strict=None, verbose=True)
    assert capsys.readouterr().out.startswith("[not quite] kl_toy")
    monkeypatch.setenv("WORKSHOP_STRICT_CHECKS", "0")
    assert run(used_log_sigma, strict=None).status == "mistake"


def test_check_value_and_check_custom():
    value = checks.check_value("entropy", 0.6931, np.log(2), rtol=1e-3, verbose=False, strict=False)
    assert value.passed
    mistake = checks.check_value("entropy", 1.0, np.log(2), mistakes=[("you used log base 2.", 1.0)], verbose=False, strict=False)
    assert mistake.status == "mistake" and "log base 2" in mistake.message
    missing = checks.check_value("entropy", None, np.log(2), verbose=False, strict=False)
    assert missing.status == "not_implemented"
    shape = checks.check_value("z", np.zeros((4, 2)), np.zeros((4,)), verbose=False, strict=False)
    assert shape.status == "wrong" and "shape mismatch" in shape.message

    def stub():
        raise NotImplementedError

    assert checks.check_custom("Sampling", stub, verbose=False, strict=False).status == "not_implemented"
    assert checks.check_custom("Sampling", lambda: (True, "std is 1.0"), verbose=False, strict=False).passed
    failed = checks.check_custom("Sampling", lambda: (False, "std is 3.2"), verbose=False, strict=False)
    assert failed.status == "wrong" and failed.message == "[wrong] Sampling: std is 3.2."
    boom = checks.check_custom("Sampling", lambda: 1 / 0, verbose=False, strict=False)
    assert boom.status == "error" and "ZeroDivisionError" in boom.message


def test_bad_arguments_from_the_student_or_the_author():
    assert run(None).status == "error"
    with pytest.raises(ValueError, match="Expected a non-empty list of cases"):
        checks.check_function("x", reference, reference, [], verbose=False)
    assert _core.values_match([1.0, 2.0], np.array([1.0, 2.0]))
    assert not _core.values_match(np.array([1.0, np.nan]), np.array([1.0, 2.0]))


# --------------------------------------------------------------------------- #
# Verdicts a student can read: one line, their own line quoted, what differs
# --------------------------------------------------------------------------- #
def test_multi_line_errors_and_numpy_reprs_become_one_clean_line():
    def raises_long(mu, log_var):
        raise ValueError("first line\n\n  second line\n" + "x" * 2000)

    result = run(raises_long)
    assert result.status == "error" and "\n" not in result.message
    assert "ValueError: first line" in result.message and len(result.message) < 800
    assert _core.one_line("value np.float64(1.5) and np.int64(3)") == "value 1.5 and 3"


def test_the_location_quotes_the_students_line_not_numpys():
    def bad_shapes(mu, log_var):
        total = np.dot(np.ones((2, 5)), mu)  # the student's line
        return total

    result = run(bad_shapes)
    assert "(at `total = np.dot(np.ones((2, 5)), mu) # the student's line`)" in result.message  # spaces collapsed


def test_numpy_warnings_are_not_printed_above_the_verdict(capsys):
    def warns(mu, log_var):
        return reference(mu, log_var) + np.log(np.zeros(np.shape(mu)[:-1]) if np.ndim(mu) > 1 else 0.0)

    result = run(warns, verbose=True)
    captured = capsys.readouterr()
    assert "RuntimeWarning" not in captured.err + captured.out
    assert captured.out.strip() == result.message


def test_an_unknown_mistake_is_described_by_what_differs():
    result = run(lambda mu, log_var: reference(mu, log_var) * 3.0 + 0.0)
    assert result.status == "wrong"
    result = run(lambda mu, log_var: reference(mu, log_var) + 0.25)
    assert "larger than expected" in result.message or "more than expected" in result.message
    assert _core.describe_difference(np.array([2.0, 4.0]), np.array([1.0, 2.0])).count("2 x expected") == 1
    assert "received = expected + 0.5" in _core.describe_difference(np.array([1.5, 2.5]), np.array([1.0, 2.0]))
    assert "smaller" in _core.describe_difference(np.array([0.0, 1.0]), np.array([1.0, 2.0]))


def test_symbolic_run_names_numpy_float_and_static_shapes():
    import tensorflow as tf
    from keras import ops

    def tensor_reference(mu, log_var):
        return 0.5 * ops.sum(ops.exp(log_var) + mu**2 - 1.0 - log_var, axis=-1)

    cases = [(tf.constant([[0.5, -1.0]]), tf.constant([[0.3, -0.2]]))]

    def check(fn):
        return checks.check_function("kl_toy", fn, tensor_reference, cases, rtol=1e-4, verbose=False, strict=False, symbolic=True)

    assert check(tensor_reference).passed
    numpy_answer = check(lambda mu, log_var: 0.5 * np.sum(np.exp(log_var) + mu**2 - 1.0 - log_var, axis=-1))
    assert numpy_answer.status == "error" and "NumPy call" in numpy_answer.message
    float_answer = check(lambda mu, log_var: tensor_reference(mu, log_var) * float(ops.sum(mu) * 0 + 1))
    assert "float(...)" in float_answer.message
    static = check(lambda mu, log_var: ops.reshape(tensor_reference(mu, log_var), (mu.shape[0],)))
    assert "ops.shape" in static.message


def test_numpy_on_a_symbolic_tensor_is_a_mistake_not_an_unfinished_stub():
    """Regression: TensorFlow raises NotImplementedError for np.* on a symbolic tensor, which was reported as a stub."""
    import numpy as np

    from workshop.checks import nb08

    numpy_answer = nb08.check_log_mean_exp(lambda w: np.log(np.mean(np.exp(w), axis=-1)), verbose=False, strict=False)
    assert numpy_answer.status == "error"
    assert "keras.ops" in numpy_answer.message and "\n" not in numpy_answer.message

    def stub(log_w):
        raise NotImplementedError("Exercise log_mean_exp: write it")

    assert nb08.check_log_mean_exp(stub, verbose=False, strict=False).status == "not_implemented"


def test_numpy_inside_a_gradient_tape_is_named_as_the_cause():
    """Regression: np.mean in train_step was reported only as "AttributeError: 'numpy.float32' object has no attribute '_id'"."""
    import keras
    import tensorflow as tf
    from keras import ops

    import workshop
    from workshop import losses
    from workshop.checks import nb05

    class NumpyMean(workshop.VAE):
        def train_step(self, data):
            x = ops.cast(keras.utils.unpack_x_y_sample_weight(data)[0], "float32")
            with tf.GradientTape() as tape:
                z_mean, z_log_var = self.encoder(x, training=True)
                z = self.sampling([z_mean, z_log_var])
                reconstruction = np.mean(losses.bernoulli_reconstruction_loss(x, self.decoder(z, training=True)))
                kl = np.mean(losses.kl_standard_normal(z_mean, z_log_var))
                loss = reconstruction + self.beta * kl
            self.optimizer.apply(tape.gradient(loss, self.trainable_weights), self.trainable_weights)
            return self._update_metrics(reconstruction, kl)

    result = nb05.check_train_step(NumpyMean, verbose=False, strict=False)
    assert result.status == "error" and "\n" not in result.message
    assert "GradientTape cannot differentiate" in result.message and "keras.ops" in result.message


@pytest.mark.parametrize(
    "answer, words",
    [
        (lambda x: x.astype("float64"), ["`.astype`", "ops.cast(x, dtype)"]),
        (lambda x: x.T, ["`.T`", "ops.transpose(x)"]),
        (lambda x: x.flatten(), ["`.flatten`", "ops.reshape(x, (-1,))"]),
        (lambda x: x.argmax(axis=-1), ["`.argmax`", "ops.argmax(x, ...)"]),
    ],
    ids=["astype", "T", "flatten", "argmax"],
)
def test_numpy_methods_on_tensors_are_named_with_their_keras_ops_function(answer, words):
    from keras import ops

    with pytest.raises(AttributeError) as caught:
        answer(ops.convert_to_tensor(np.ones((2, 3), "float32")))
    advice = _core.explain_tensor_misuse(caught.value)
    assert advice is not None and "keras.ops" in advice
    assert all(w in advice for w in words), advice
    assert words[0] in _core.explain_symbolic_failure(caught.value)


def test_item_assignment_into_a_tensor_is_named_and_other_errors_are_not():
    from keras import ops

    x = ops.convert_to_tensor(np.ones(3, "float32"))
    with pytest.raises(TypeError) as caught:
        x[0] = 2.0
    assert "cannot be changed in place" in _core.explain_tensor_misuse(caught.value)
    assert _core.explain_tensor_misuse(AttributeError("'list' object has no attribute 'max'")) is None
    assert _core.explain_tensor_misuse(ValueError("'EagerTensor' object has no attribute 'max'")) is None


def test_a_numpy_method_on_a_tensor_in_a_check_names_the_method_and_the_line():
    from keras import ops

    def student(mu, log_var):
        mu, log_var = ops.convert_to_tensor(mu), ops.convert_to_tensor(log_var)
        return 0.5 * (ops.exp(log_var) + mu**2 - 1.0 - log_var).sum(axis=-1)

    result = run(student)
    assert result.status == "error"
    assert "a NumPy method on a tensor: tensors have no `.sum`" in result.message
    assert "ops.sum(x, ...) instead of x.sum(...)" in result.message
    assert "(ops.exp(log_var) + mu**2 - 1.0 - log_var).sum(axis=-1)" in result.message
