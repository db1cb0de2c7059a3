"""Named training recipes (plain data: :func:`workshop.instructor.config.preset_config` builds them) for ``python -m workshop train --preset NAME``.

A preset only changes the DEFAULTS of ``train``: any flag given on the command
line still wins (``--preset reference --epochs 10`` trains the reference recipe
for 10 epochs). ``python -m workshop train --help`` lists the names.

``reference`` is the recipe of the shipped pretrained model
``vae_mnist_reference`` (notebook 08): the course's MLP with a 32-dimensional
latent code, trained on grey-level MNIST binarised afresh at every step
("dynamic binarisation", which acts as data augmentation and keeps the model from
over-fitting one fixed binarisation), evaluated on the fixed-binarised test set;
batch 128, Adam from 1e-3 decayed to 0 along a cosine, the KL weight warmed up
from 0 to 1 over the first 5 epochs, 160 epochs. Measured on an idle 2-core CPU:
about 4.6 s per epoch with the validation pass, 12.5 minutes for the 160 epochs.
"""

PRESETS = {
    "reference": {
        "description": "the reference model of notebook 08: MLP 784-512-256-32, dynamic binarization, 160 epochs, batch 128, cosine decay, "
        "5 epochs of KL warm-up",
        "arguments": {
            "latent_dim": 32,
            "hidden_units": (512, 256),
            "dynamic_binarization": True,
            "batch_size": 128,
            "learning_rate": 1e-3,
            "lr_schedule": "cosine",
            "kl_warmup_epochs": 5,
            "epochs": 160,
            "eval_samples": 100,
        },
    },
}


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
