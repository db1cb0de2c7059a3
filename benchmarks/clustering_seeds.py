"""Summarise runs of ``python -m workshop cluster train`` over seeds: one table row per run, then mean and spread.

Each run folder's model is evaluated on all 10,000 test images, binarized with seeds 0 and 1
(``workshop.instructor.clustering_run.evaluate_clustering``); the baselines and seconds are read from its
``config.json``. Needs the full MNIST (``MNIST_PATH``).

    for s in 0 1 2; do python -m workshop cluster train --seed $s --output runs/cluster_s$s; done
    MNIST_PATH=/path/to/mnist.npz python benchmarks/clustering_seeds.py runs/cluster_s0 runs/cluster_s1 runs/cluster_s2 --json seeds.json
"""

import argparse
import json
import statistics
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--json", metavar="FILE", help="also write the rows to FILE")
    args = parser.parse_args(argv)

    from workshop.instructor.clustering_run import evaluate_clustering, load_clustering_model

    rows = []
    for run in args.runs:
        model, record = load_clustering_model(run)
        result = evaluate_clustering(model, baselines=False)
        draws = [d["accuracy"] for d in result["draws"].values()]
        rows.append(
            {
                "run": str(run),
                "seed": record["settings"]["seed"],
                "init": record["settings"]["init"],
                "kmeans_pixels": record["baselines"]["kmeans_pixels"],
                "kmeans_pretrained_codes": record["baselines"]["kmeans_pretrained_codes"],
                "init_model_test": record["baselines"]["init_model_test"],
                "accuracy_draws": draws,
                "nmi": result["draws"]["0"]["nmi"],
                "train_seconds": record["seconds"]["train"],
            }
        )
    print("| run | seed | init | k-means pixels | k-means pretrained codes | model after init | final, draw 0 / draw 1 | NMI | training |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {Path(r['run']).name} | {r['seed']} | {r['init']} | {r['kmeans_pixels']:.2%} | {r['kmeans_pretrained_codes']:.2%} | "
            f"{r['init_model_test']:.2%} | {r['accuracy_draws'][0]:.2%} / {r['accuracy_draws'][1]:.2%} | {r['nmi']:.3f} | "
            f"{r['train_seconds'] / 60:.1f} min |"
        )
    for init in sorted({r["init"] for r in rows}):
        finals = [r["accuracy_draws"][0] for r in rows if r["init"] == init]
        if len(finals) > 1:
            print(
                f"\n--init {init}: final accuracy (draw 0) over {len(finals)} runs: mean {statistics.mean(finals):.2%}, standard "
                f"deviation {statistics.stdev(finals) * 100:.2f} points, range {min(finals):.2%} to {max(finals):.2%}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
