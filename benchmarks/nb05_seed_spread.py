"""Seed spread of the numbers notebook 05's prose compares: the holes (section 8) and the latent-size sweep (section 9).

Retrains the notebook's models with the notebook's full settings (60,000 training images, batch 64, Adam from
1.5e-3 decayed to 0 along a cosine) for several seeds and prints, for each quantity the prose quotes, the mean and
the spread (min-max) over the seeds:

- ``holes``: the 20-D and the 2-D model of sections 7 and 8 (``--epochs`` epochs each, 30 in the notebook, a fresh
  binarization at every step), judged as section 8 judges them: the share of images whose 10 nearest grey-level
  training images agree on one label at least 8 times out of 10, for the first 1,000 test digits, their
  reconstructions, 1,000 prior samples of each model (sample seed 1, as in the notebook) and the 400 manifold tiles.
- ``sweep``: section 9's sweep, ``workshop.VAE`` with 2, 5, 10, 20 and 50 latent dimensions, 2 epochs each on the
  fixed binarization; test -ELBO, KL and active units on the 10,000 test images.

The model seed (weights, noise, shuffling) is the only thing that changes between runs; seed 0 is the notebook's
seed, but the notebook's own run is not reproduced exactly (it trains other models first, in the same process).

    python benchmarks/nb05_seed_spread.py --seeds 0 1 2 --json benchmarks/results/nb05-seed-spread.json
    python benchmarks/nb05_seed_spread.py --parts sweep --seeds 0 1 2
"""

import argparse
import json
import math
import time

import keras
import numpy as np

import workshop
from workshop import autoencoders, evaluation, load_mnist, plots, probability

BATCH_SIZE, LEARNING_RATE = 64, 1.5e-3
NUM_RANDOM_CODES = 1000
SWEEP_LATENT_DIMS, SWEEP_EPOCHS = (2, 5, 10, 20, 50), 2


def make_optimizer(epochs, num_train):
    # the notebook's make_optimizer: Adam from LEARNING_RATE to 0 along half a cosine over the run
    steps = epochs * math.ceil(num_train / BATCH_SIZE)
    return keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps))


def neg_elbo_and_kl(model, x_test):
    neg_elbo = -float(np.mean(model.elbo(x_test, seed=0)))
    kl = float(np.mean(probability.kl_to_standard_normal(*model.encode(x_test))))
    return neg_elbo, kl


def holes(seed, epochs, data):
    x_train_grey, x_test, x_reference, y_reference, x_test_grey = data
    models = {}
    for latent_dim in (20, 2):
        keras.utils.set_random_seed(seed)
        model = workshop.VAE(latent_dim=latent_dim, seed=seed, dynamic_binarization=True)
        model.compile(optimizer=make_optimizer(epochs, len(x_train_grey)))
        model.fit(x_train_grey, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
        models[latent_dim] = model
    grid_codes, _ = plots.manifold_codes(n=20)
    groups = {
        "real test digits": x_test_grey,
        "reconstructions (20-D)": models[20].reconstruct(x_test[:NUM_RANDOM_CODES]),
        "prior samples (20-D)": models[20].sample(NUM_RANDOM_CODES, seed=1),
        "prior samples (2-D)": models[2].sample(NUM_RANDOM_CODES, seed=1),
        "manifold tiles (2-D, 400)": models[2].decode(grid_codes),
    }
    out = {}
    for name, images in groups.items():
        _, agreement = autoencoders.knn_vote(images, x_reference, y_reference, k=10)
        out[f"recognisable: {name}"] = 100.0 * float(np.mean(agreement >= 0.8))
    for latent_dim, model in models.items():
        neg_elbo, kl = neg_elbo_and_kl(model, x_test)
        out[f"test -ELBO ({latent_dim}-D)"], out[f"KL ({latent_dim}-D)"] = neg_elbo, kl
    return out


def sweep(seed, x_train, x_test):
    out = {}
    for latent_dim in SWEEP_LATENT_DIMS:
        keras.utils.set_random_seed(seed)
        model = workshop.VAE(latent_dim=latent_dim, seed=seed)
        model.compile(optimizer=make_optimizer(SWEEP_EPOCHS, len(x_train)))
        model.fit(x_train, epochs=SWEEP_EPOCHS, batch_size=BATCH_SIZE, verbose=0)
        neg_elbo, kl = neg_elbo_and_kl(model, x_test)
        active, _ = evaluation.active_units(model, x_test)
        out[f"d = {latent_dim}: test -ELBO"], out[f"d = {latent_dim}: KL"] = neg_elbo, kl
        out[f"d = {latent_dim}: active units"] = float(active)
    return out


def summarise(runs):
    keys = list(runs[0])
    lines = []
    for key in keys:
        v = np.array([r[key] for r in runs], dtype=float)
        lines.append(f"{key:45s} {v.mean():8.2f} [{v.min():.2f}, {v.max():.2f}]   " + " ".join(f"{x:.2f}" for x in v))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parts", nargs="+", choices=("holes", "sweep"), default=["sweep", "holes"])
    parser.add_argument("--epochs", type=int, default=30, help="epochs of the holes models (the notebook's full mode: 30)")
    parser.add_argument("--json", default=None, help="also write the per-seed numbers to this file")
    args = parser.parse_args()
    (x_train, _), (x_test, _) = load_mnist(binarize="random")
    results = {"seeds": args.seeds, "epochs_holes": args.epochs, "runs": {part: [] for part in args.parts}}
    if "holes" in args.parts:
        (x_train_grey, _), _ = load_mnist(num_train=None, num_test=1)
        (x_reference, y_reference), (x_test_grey, _) = load_mnist(num_train=None, num_test=NUM_RANDOM_CODES)
        holes_data = (x_train_grey, x_test, x_reference, y_reference, x_test_grey)
    for part in args.parts:
        for seed in args.seeds:
            t0 = time.perf_counter()
            run = sweep(seed, x_train, x_test) if part == "sweep" else holes(seed, args.epochs, holes_data)
            results["runs"][part].append(run)
            print(f"{part}, seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(results, f, indent=1)
        print(f"{part}, seeds {args.seeds}: mean [min, max]   per seed")
        print("\n".join(summarise(results["runs"][part])), flush=True)


if __name__ == "__main__":
    main()
