"""Chapter 12's runs over several seeds, stored with their provenance; the chapter reads the results.

    python experiments/mnist_seeds.py                     # every setting and seed below (about 40 min on 2 cores)
    python experiments/mnist_seeds.py --settings ours --seeds 0 1 2 3
    python experiments/mnist_seeds.py --settings ours --seeds 0 --final-only --save-model
    make seeds                                            # the first line, then the third

Each run is one setting and one seed, in two parts:

* a **validation run**: train on 50,000 training images and evaluate the other 10,000 (the validation split of
  Chapter 1, `train_val_split(seed=0)`, the same for every run) after every epoch. Its curves justify the number of
  epochs and compare the settings; the test set is not touched;
* with `--final` (the default for our setting), a **final run**: the same setting trained on all 60,000 images, then
  evaluated once on the 10,000 test images. This is the number a reader may quote.
  `--final-only` runs only this part (the validation run must be stored already); `--save-model` also saves the
  final model with nnlib's `save_model` to ``experiments/results/mnist_<setting>_seed<seed>.npz`` and records its
  MD5, size, test accuracy and provenance in the run's ``final.model``. Chapter 12 loads the seed-0 model of our
  setting from there instead of training it for a minute or more.

Settings (all 784-400-100-10, ReLU, He normal, batches of 256, FastModel/FastAdam of Chapter 11):

* ``ours``: Adam η0 = 2e-3, β = (0.9, 0.999), cosine decay over 55 epochs, dropout 0.3/0.3;
* ``ours-p0.2``, ``ours-lr1e-3``, ``ours-p0.2-lr1e-3``: our setting with dropout 0.2/0.2 and/or η0 = 1e-3 (the
  validation-only sweep p ∈ {0.2, 0.3} × η0 ∈ {1e-3, 2e-3} that chose ours);
* ``scratch``: the from-scratch setting: Adam η0 = 0.005, β = (0.8, 0.999), η_e = η0 / (1 + 1e-5 (e − 1)) per
  epoch (`InverseTimeDecay(1e-5)`: 0.05% lower after 50 epochs, a constant rate to three digits), dropout 0.6/0.5,
  50 epochs;
* ``scratch+our-dropout``: the from-scratch setting with our dropout 0.3/0.3 (is the gap the dropout?);
* ``scratch+our-optimiser``: the from-scratch setting with our optimiser and schedule (is the gap the step size?);
* ``scratch+both``: both swaps, i.e. our setting but for 50 epochs (cosine over 50): are the two effects additive,
  and what do the 5 extra epochs of ours add?

Results go to ``experiments/results/mnist_seeds.json`` (written atomically after every run, so an interrupted
sweep keeps what it finished; a run already there with the same setting, seed and nnlib version is skipped unless
``--again``). Every run records the date, the machine, Python/NumPy/nnlib versions, the BLAS threads and kernel,
the MD5s of the four MNIST files and the command. The stored runs used 2 threads and OpenBLAS's Haswell kernel
(`make seeds` sets OPENBLAS_NUM_THREADS=2 OPENBLAS_CORETYPE=Haswell): with another kernel (SkylakeX, OpenBLAS's
choice on an AVX-512 machine) or thread count the float32 sums round differently and a seed gives another network.
Each validation run also records how many validation images its final network misclassifies and the share of the
validation loss they carry (``errors``, ``error_loss_share``); `--validation-only` re-runs a stored run's
validation part to add them (``reproduces_stored`` says whether its curves came out the same).
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
    "scratch+both": {**OURS, "epochs": SCRATCH["epochs"]},
    "ours-p0.2": {**OURS, "dropout": [0.2, 0.2]},
    "ours-lr1e-3": {**OURS, "lr": 1e-3},
    "ours-p0.2-lr1e-3": {**OURS, "dropout": [0.2, 0.2], "lr": 1e-3},
}
FINAL_BY_DEFAULT = {"ours"}


def model_path(name: str, seed: int) -> Path:
    "Where `--save-model` puts the final model of setting `name` and `seed`."
    return RESULTS.parent / f"mnist_{name}_seed{seed}.npz"


def file_md5(path: Path) -> str:
    import hashlib
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


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


def error_loss_share(model, X, y):
    "The share of the cross-entropy on (X, y) that the misclassified images carry, and how many they are."
    p = model.predict_proba(X)
    loss = -np.log(np.maximum(p[np.arange(len(y)), y], 1e-12))
    wrong = p.argmax(axis=1) != y
    return float(loss[wrong].sum() / loss.sum()), int(wrong.sum())


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
            # the BLAS and the kernel it chose for this CPU (OPENBLAS_CORETYPE overrides the choice): another
            # kernel adds in another order, so the same seed gives another network
            "blas": next((f"{p['internal_api']} {p['version']} {p.get('architecture') or ''}".strip()
                          for p in threadpool_info() if p["user_api"] == "blas"), None),
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
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
    parser.add_argument("--final-only", action="store_true",
                        help="run only the final run (60,000 images, then the test set); keep the stored "
                             "validation run")
    parser.add_argument("--validation-only", action="store_true",
                        help="run only the validation run and keep the stored final run (and model)")
    parser.add_argument("--save-model", action="store_true",
                        help="save each final run's model beside the results, its MD5 recorded in the JSON")
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
        final = (args.final if args.final is not None else name in FINAL_BY_DEFAULT) and not args.validation_only
        for seed in seeds:
            if args.final_only:
                final_only(results, name, seed, args, X_all, y_all, X_test, y_test)
                continue
            done = [r for r in results["runs"] if (r["setting"], r["seed"], r["provenance"]["nnlib"]) ==
                    (name, seed, nnlib.__version__) and (r.get("final") or not final)]
            if args.validation_only:
                done = [r for r in done if "error_loss_share" in r["validation"]]
            if done and not args.again:
                print(f"{name} seed {seed}: stored, skipped")
                continue
            setting = SETTINGS[name]
            model, history, seconds = train(setting, seed, X, y, validation=(X_val, y_val))
            share, errors = error_loss_share(model, X_val, y_val)
            run = {"setting": name, "seed": seed, "options": setting, "provenance": provenance(),
                   "validation": {"seconds": seconds, "errors": errors, "error_loss_share": share,
                                  **{col: [float(v) for v in history[col]] for col in
                                     ("loss", "accuracy", "val_loss", "val_accuracy", "lr") if col in history}}}
            old = next((r for r in results["runs"] if (r["setting"], r["seed"]) == (name, seed)), None)
            if args.validation_only and old is not None:
                run["validation"]["reproduces_stored"] = all(
                    run["validation"][col] == old["validation"][col] for col in ("val_loss", "val_accuracy"))
                if "final" in old:
                    run["final"] = old["final"]
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


def final_only(results, name, seed, args, X_all, y_all, X_test, y_test):
    """The final run of a stored run alone; with `--save-model` the model is saved and described in the JSON.

    The stored final run's test accuracy and loss are kept; the new run's go into ``final.model`` (with
    `--save-model`) or are appended to ``final.reruns``, with ``reproduces_stored`` saying whether they are equal
    (same seed, same BLAS kernel and threads: they should be)."""
    from nnlib.serialization import save_model
    stored = [r for r in results["runs"] if (r["setting"], r["seed"]) == (name, seed)]
    if not stored:
        raise SystemExit(f"{name} seed {seed}: no stored run; run it without --final-only first")
    run = stored[0]
    path = model_path(name, seed)
    model_info = run.get("final", {}).get("model")
    if args.save_model and model_info and path.exists() and file_md5(path) == model_info["md5"] and not args.again:
        print(f"{name} seed {seed}: model stored ({path.name}), skipped")
        return
    model, history, seconds = train(SETTINGS[name], seed, X_all, y_all)
    test = model.evaluate(X_test, y_test)
    new = {"seconds": seconds, "test_accuracy": float(test["accuracy"]), "test_loss": float(test["loss"]),
           "provenance": provenance()}
    old = run.get("final")
    new["reproduces_stored"] = bool(old) and (old["test_accuracy"], old["test_loss"]) == (
        new["test_accuracy"], new["test_loss"])
    if not args.save_model:   # a re-run only (another machine, kernel or thread count): kept beside the model
        run.setdefault("final", {}).setdefault("reruns", []).append(new)
        print(f"{name} seed {seed}: re-run of the final run, test accuracy {new['test_accuracy']:.4f} (stored "
              f"{old['test_accuracy'] if old else None}), {seconds:.0f} s", flush=True)
        save_results(results, args.output)
        return
    if args.save_model:
        save_model(model, path, provenance={"setting": name, "seed": seed, "options": SETTINGS[name],
                                            "trained_on": "all 60,000 MNIST training images",
                                            "command": new["provenance"]["command"]})
        new.update(file=str(path.relative_to(HERE.parent)), md5=file_md5(path), bytes=path.stat().st_size)
    print(f"{name} seed {seed}: final run, test accuracy {new['test_accuracy']:.4f} (stored "
          f"{old['test_accuracy'] if old else None}), {seconds:.0f} s", flush=True)
    if old is None:
        run["final"] = {k: new[k] for k in ("seconds", "test_accuracy", "test_loss")}
        run["final"]["loss"] = [float(v) for v in history["loss"]]
    run["final"]["model"] = new
    save_results(results, args.output)


if __name__ == "__main__":
    main()
