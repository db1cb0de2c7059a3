"""Named training recipes for ``python -m workshop train --preset NAME``.

A preset only changes the DEFAULTS of ``train``: any flag given on the command
line still wins (``--preset reference --epochs 10`` trains the reference recipe
for 10 epochs). ``python -m workshop train --help`` lists the names.

``reference`` is the recipe of the shipped pretrained model
``vae_mnist_reference`` (notebook 08): the course's MLP with a 32-dimensional
latent code, trained on grey-level MNIST binarised afresh at every step
("dynamic binarisation", which acts as data augmentation and keeps the model from
over-fitting one fixed binarisation), evaluated on the fixed-binarised test set,
batch 128, Adam at 1e-3, 100 epochs. Measured on a 2-core CPU at load 2-3, an
epoch takes about 21 seconds (about 35 minutes for 100 epochs).
"""

PRESETS = {
    "reference": {
        "description": "the reference model of notebook 08: MLP 784-512-256-32, dynamic binarization, 100 epochs, batch 128",
        "arguments": {
            "latent_dim": 32,
            "hidden_units": (512, 256),
            "dynamic_binarization": True,
            "batch_size": 128,
            "learning_rate": 1e-3,
            "epochs": 100,
            "eval_samples": 100,
        },
    },
}


def preset_config(name):
    """The :class:`~workshop.config.TrainingConfig` of preset ``name`` (a ValueError naming the presets otherwise)."""
    from workshop.config import TrainingConfig

    if name not in PRESETS:
        raise ValueError(f"Expected `preset` to be one of {tuple(sorted(PRESETS))}. Received: preset={name!r}")
    return TrainingConfig(preset=name, **PRESETS[name]["arguments"])


def preset_from_argv(argv):
    """The value of ``--preset`` in a ``train`` command line (``--preset NAME`` or ``--preset=NAME``), or None."""
    argv = list(argv)
    if not argv or argv[0] != "train":
        return None
    for i, token in enumerate(argv):
        if token == "--preset" and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith("--preset="):
            return token.split("=", 1)[1]
    return None
