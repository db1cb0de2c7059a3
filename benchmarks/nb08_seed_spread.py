"""Seed spread of the small models of notebook 08, section 5 (collapse and its remedies).

Trains the notebook's small models with the notebook's full settings (6,000 training images,
4 epochs, batch 128, Adam 1e-3, evaluated on 500 test images) for several seeds and prints,
for each model, the mean and the spread (min-max) of the numbers the notebook's prose quotes.
Seed 0 is the notebook's own run.

    python benchmarks/nb08_seed_spread.py --seeds 0 1 2
"""

import argparse
import json
import time

import keras
import numpy as np

import workshop
from workshop import evaluation, load_mnist

NUM_TRAIN_SMALL, EPOCHS_SMALL, NUM_TEST_SMALL = 6000, 4, 500
WARMUP = max(1, EPOCHS_SMALL // 2)
MODELS = {
    "beta = 1, d = 8": (8, {}),
    "beta = 1, d = 32": (32, {}),
    "beta = 1, d = 64": (64, {}),
    "beta = 4, d = 32": (32, {"beta": 4.0}),
    "beta = 4, d = 32 + warm-up": (32, {"beta": 4.0, "kl_warmup_epochs": WARMUP}),
    "beta = 4, d = 32 + free bits 0.5": (32, {"beta": 4.0, "free_bits": 0.5}),
    "beta = 1, d = 64 + warm-up": (64, {"kl_warmup_epochs": WARMUP}),
    "beta = 1, d = 64 + free bits 0.5": (64, {"free_bits": 0.5}),
}


def train_small(x_small, x_small_test, latent_dim, seed, **options):
    # the notebook's train_small with its seed 0 replaced by `seed`
    keras.utils.set_random_seed(seed)
    vae = workshop.VAE(latent_dim=latent_dim, hidden_units=(256,), seed=seed, **options)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae.fit(x_small, epochs=EPOCHS_SMALL, batch_size=128, verbose=0)
    kl = evaluation.kl_per_dimension(vae, x_small_test)
    count, _ = evaluation.active_units(vae, x_small_test)
    iwae = float(np.mean(vae.log_likelihood(x_small_test, num_samples=100, seed=0)))
    neg_elbo = -float(np.mean(vae.elbo(x_small_test, seed=0)))
    return {"neg_elbo": neg_elbo, "neg_iwae": -iwae, "kl": float(kl.sum()), "active": int(count), "kl_above_0.1": int(np.sum(kl > 0.1))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", default=None, help="also write the per-seed numbers to this file")
    args = parser.parse_args()
    (x_train, _), (x_test, _) = load_mnist(binarize="random")
    x_small, x_small_test = x_train[:NUM_TRAIN_SMALL], x_test[:NUM_TEST_SMALL]
    runs = {name: [] for name in MODELS}
    for seed in args.seeds:
        t0 = time.perf_counter()
        for name, (latent_dim, options) in MODELS.items():
            runs[name].append(train_small(x_small, x_small_test, latent_dim, seed, **options))
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"seeds {args.seeds}: mean [min, max]")
    for name, rows in runs.items():
        cells = []
        for key in ("neg_elbo", "neg_iwae", "kl", "active", "kl_above_0.1"):
            v = np.array([r[key] for r in rows], dtype=float)
            cells.append(f"{key} {v.mean():.2f} [{v.min():.2f}, {v.max():.2f}]")
        print(f"{name:34s} " + "; ".join(cells))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seeds": args.seeds, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
