"""Grading, for every notebook of the course (notebook 01: test_grading.py), a submission with one planted mistake
and the untouched student notebook.

The first is the solution notebook with one plausible student mistake planted in one exercise: the planted
exercise must fail with its check's one-line message, and every other exercise of that notebook must pass. The
second must be graded all "not attempted". Both are graded at once (``jobs=2``), each in its own sandboxed kernel
and in fast mode, as an instructor would grade them; only the cells the exercises need run, so no training.
"""

from pathlib import Path

import nbformat

from workshop.instructor import grading

ROOT = Path(__file__).resolve().parent.parent

# notebook: (exercise, text in its solution, the mistake that replaces it)
PLANTED = {
    "02_autoencoders.ipynb": (
        "principal_angles",
        "return np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))",
        "return np.arccos(np.clip(cosines, -1.0, 1.0))",  # radians where degrees are asked for
    ),
    "03_latent_variable_models_elbo.ipynb": (
        "log_px_prior_sampling",
        "np.log(np.mean(np.exp(log_likelihoods - largest)))",
        "np.log(np.sum(np.exp(log_likelihoods - largest)))",  # the 1/S of the average forgotten
    ),
    "04_reparameterization_trick.ipynb": (
        "pathwise_gradient",
        "return df(mu + sigma * eps)",
        "return df(mu + sigma * eps) * sigma",  # the chain rule applied to the wrong variable
    ),
    "05_vae_mnist.ipynb": (
        "reparameterize",
        "return z_mean + ops.exp(0.5 * z_log_var) * eps",
        "return z_mean + ops.exp(z_log_var) * eps",  # the variance used as the standard deviation
    ),
    "06_gaussian_decoders_blur.ipynb": (
        "beta_for_sigma",
        'return 2.0 * np.asarray(sigma, dtype="float64") ** 2',
        'return np.asarray(sigma, dtype="float64") ** 2',  # the factor 2 of 2 sigma^2 lost
    ),
    "07_conditional_vae.ipynb": (
        "decoder_input",
        'return np.concatenate([np.asarray(z, dtype="float32"), one_hot(labels, num_classes)], axis=1)',
        'return np.concatenate([one_hot(labels, num_classes), np.asarray(z, dtype="float32")], axis=1)',  # label first
    ),
    "08_model_evaluation.ipynb": (
        "kl_warmup_weight",
        "return min(1.0, epoch / warmup_epochs)",
        "return min(1.0, (epoch + 1) / warmup_epochs)",  # one epoch early
    ),
    "09_bayesian_neural_networks.ipynb": (
        "minibatch_loss",
        "return ops.mean(nll) + kl / num_train",
        "return ops.mean(nll) + kl",  # the KL not divided by N
    ),
    "10_mixture_prior.ipynb": (
        "monte_carlo_kl",
        "return log_q - log_prior",
        "return log_prior - log_q",  # the sign flipped
    ),
}

# Exercises that call the planted one, and so rightly fail with it: 05's train_step uses reparameterize.
DEPENDENT = {"05_vae_mnist.ipynb": {"train_step"}}


def _planted(name, original, mistake):
    nb = nbformat.read(str(ROOT / "solutions" / name), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and original in c.source]
    assert len(cells) == 1, f"{name}: the text to replace is in {len(cells)} cells; update PLANTED"
    cells[0].source = cells[0].source.replace(original, mistake)
    return nb


def _grade(tmp_path, name):
    _, original, mistake = PLANTED[name]
    for student in ("student", "stub"):
        (tmp_path / student).mkdir()
    nbformat.write(_planted(name, original, mistake), str(tmp_path / "student" / name))
    nbformat.write(nbformat.read(str(ROOT / "notebooks" / name), as_version=4), str(tmp_path / "stub" / name))
    result, stub = grading.grade([tmp_path / "student" / name, tmp_path / "stub" / name], tmp_path / "report", cell_timeout=300, jobs=2)
    assert stub.exercises and {e.status for e in stub.exercises} == {"not attempted"}, stub
    return result


def _check(result, name):
    planted = PLANTED[name][0]
    statuses = {e.exercise: e.status for e in result.exercises}
    assert result.status == "graded", (result.status, result.message)
    assert statuses.get(planted) == "fail", statuses
    failing = {planted, *DEPENDENT.get(name, ())}
    assert {exercise for exercise, status in statuses.items() if status == "fail"} == failing, statuses
    assert all(status == "pass" for exercise, status in statuses.items() if exercise not in failing), statuses
    message = next(e.message for e in result.exercises if e.exercise == planted)
    assert message and "\n" not in message and "Traceback" not in message, message


# One test class per notebook: pytest-xdist (``--dist loadscope``) sends each class to a
# worker of its own choosing, so the notebooks are graded on all workers at once.
def _test_class(name):
    def test_the_planted_mistake_fails_and_every_other_exercise_passes(self, tmp_path):
        _check(_grade(tmp_path, name), name)

    return type(
        f"TestNotebook{name[:2]}",
        (),
        {
            test_the_planted_mistake_fails_and_every_other_exercise_passes.__name__: test_the_planted_mistake_fails_and_every_other_exercise_passes
        },
    )


for _name in sorted(PLANTED):
    _cls = _test_class(_name)
    globals()[_cls.__name__] = _cls
