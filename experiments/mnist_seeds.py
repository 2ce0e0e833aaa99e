"""Chapter 12's runs over several seeds, stored with their provenance; the chapter reads the results.

    python experiments/mnist_seeds.py                     # every setting and seed below (about 25 min on 2 cores)
    python experiments/mnist_seeds.py --settings ours --seeds 0 1 2 3
    make seeds                                            # the same as the first line

Each run is one setting and one seed, in two parts:

* a **validation run**: train on 50,000 training images and evaluate the other 10,000 (the validation split of
  Chapter 1, `train_val_split(seed=0)`, the same for every run) after every epoch. Its curves justify the number of
  epochs and compare the settings; the test set is not touched;
* with `--final` (the default for our setting), a **final run**: the same setting trained on all 60,000 images, then
  evaluated once on the 10,000 test images. This is the number a reader may quote.

Settings (all 784-400-100-10, ReLU, He normal, batches of 256, FastModel/FastAdam of Chapter 11):

* ``ours``: Adam η0 = 2e-3, β = (0.9, 0.999), cosine decay over 55 epochs, dropout 0.3/0.3;
* ``scratch``: the from-scratch setting: Adam η0 = 0.005, β = (0.8, 0.999), η0 / (1 + 1e-5 e), dropout 0.6/0.5, 50 epochs;
* ``scratch+our-dropout``: the from-scratch setting with our dropout 0.3/0.3 (is the gap the dropout?);
* ``scratch+our-optimiser``: the from-scratch setting with our optimiser and schedule (is the gap the step size?).

Results go to ``experiments/results/mnist_seeds.json`` (written atomically after every run, so an interrupted
sweep keeps what it finished; a run already there with the same setting, seed and nnlib version is skipped unless
``--again``). Every run records the date, the machine, Python/NumPy/nnlib versions, the BLAS threads, the MD5s of
the four MNIST files and the command.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "mnist_seeds.json"
SIZES, BATCH, VAL_SIZE, SPLIT_SEED = [784, 400, 100, 10], 256, 10_000, 0

OURS = {"lr": 2e-3, "beta1": 0.9, "schedule": "cosine", "dropout": [0.3, 0.3], "epochs": 55}
SCRATCH = {"lr": 0.005, "beta1": 0.8, "schedule": "inverse-time", "dropout": [0.6, 0.5], "epochs": 50}
SETTINGS = {
    "ours": OURS,
    "scratch": SCRATCH,
    "scratch+our-dropout": {**SCRATCH, "dropout": OURS["dropout"]},
    "scratch+our-optimiser": {**SCRATCH, "lr": OURS["lr"], "beta1": OURS["beta1"], "schedule": OURS["schedule"]},
}
FINAL_BY_DEFAULT = {"ours"}


def train(setting: dict, seed: int, X, y, validation=None):
    """Train one network of `setting` with `seed`; returns the model, its history and the wall time."""
    from nnlib.cli import build_model
    from nnlib.fast import FastAdam
    from nnlib.schedules import CosineDecay, InverseTimeDecay
    model = build_model(SIZES, dropout=setting["dropout"], seed=seed)
    schedule = CosineDecay(setting["epochs"]) if setting["schedule"] == "cosine" else InverseTimeDecay(1e-5)
    start = time.perf_counter()
    history = model.fit(X, y, epochs=setting["epochs"], batch_size=BATCH,
                        optimizer=FastAdam(setting["lr"], beta1=setting["beta1"], beta2=0.999),
                        validation_data=validation, callbacks=[schedule], verbose=False)
    return model, history, time.perf_counter() - start


def provenance() -> dict:
    import nnlib
    from threadpoolctl import threadpool_info
    from nnlib.cli import data_checksums
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine()) if Path("/proc/cpuinfo").exists() \
        else platform.machine()
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__, "nnlib": nnlib.__version__,
            "blas_threads": max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=1),
            "data_md5": data_checksums(), "command": " ".join(["python"] + sys.argv)}


def load_results(path: Path = RESULTS) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"runs": []}


def save_results(results: dict, path: Path = RESULTS):
    "Write atomically, with the user's umask (Chapter 12's `atomic_write`)."
    from nnlib.serialization import atomic_write
    atomic_write(path, lambda f: f.write(json.dumps(results, indent=1).encode()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="default: 0 1 2 3 for ours, 0 1 2 for the others")
    parser.add_argument("--final", action=argparse.BooleanOptionalAction, default=None,
                        help="also train on all 60,000 images and test once (default: only for ours)")
    parser.add_argument("--again", action="store_true", help="re-run runs that are already stored")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from nnlib.data import load_mnist, train_val_split
    import nnlib
    X_all, y_all = load_mnist("train")
    X_test, y_test = load_mnist("test")
    X, X_val, y, y_val = train_val_split(X_all, y_all, val_size=VAL_SIZE, seed=SPLIT_SEED)
    results = load_results(args.output)
    for name in args.settings:
        seeds = args.seeds if args.seeds is not None else ([0, 1, 2, 3] if name == "ours" else [0, 1, 2])
        final = args.final if args.final is not None else name in FINAL_BY_DEFAULT
        for seed in seeds:
            done = [r for r in results["runs"] if (r["setting"], r["seed"], r["provenance"]["nnlib"]) ==
                    (name, seed, nnlib.__version__) and (r.get("final") or not final)]
            if done and not args.again:
                print(f"{name} seed {seed}: stored, skipped")
                continue
            setting = SETTINGS[name]
            _, history, seconds = train(setting, seed, X, y, validation=(X_val, y_val))
            run = {"setting": name, "seed": seed, "options": setting, "provenance": provenance(),
                   "validation": {"seconds": seconds,
                                  **{col: [float(v) for v in history[col]] for col in
                                     ("loss", "accuracy", "val_loss", "val_accuracy", "lr") if col in history}}}
            print(f"{name} seed {seed}: validation accuracy {history['val_accuracy'].iloc[-1]:.4f} "
                  f"(best {history['val_accuracy'].max():.4f} at epoch {int(history['val_accuracy'].idxmax())}), "
                  f"{seconds:.0f} s", flush=True)
            if final:
                model, history, seconds = train(setting, seed, X_all, y_all)
                test = model.evaluate(X_test, y_test)
                run["final"] = {"seconds": seconds, "test_accuracy": float(test["accuracy"]),
                                "test_loss": float(test["loss"]), "loss": [float(v) for v in history["loss"]]}
                print(f"{name} seed {seed}: final run, test accuracy {test['accuracy']:.4f}, {seconds:.0f} s",
                      flush=True)
            results["runs"] = [r for r in results["runs"] if (r["setting"], r["seed"]) != (name, seed)] + [run]
            save_results(results, args.output)
    print(f"results: {args.output}")


if __name__ == "__main__":
    main()
