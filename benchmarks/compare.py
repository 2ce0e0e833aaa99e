"""Seconds per epoch: nnlib against PyTorch (CPU: eager, fused Adam, compiled) and scikit-learn, side by side.

    python benchmarks/compare.py            # the full run: more than 10 minutes, on a quiet machine
    python benchmarks/compare.py --quick    # batch 256 only, 3 rounds: a check that everything works
                                            # (writes results-quick.json, not the results.json Chapter 11 reads)

Every framework trains in its own worker process (so each has its own peak RSS) on the same MNIST training set
(60,000 images, float32), and the workers take turns: warm-up epoch, then A, B, C, … epoch by epoch, so that a change
in machine load hits them all alike, with a pause of half a second before each epoch so that the idle threads of
the previous worker (OpenBLAS and OpenMP threads spin for a while after their last job) have stopped. Each ratio is
taken within one round and the median over rounds is printed.

- nnlib         `FastModel` + `FastAdam` (Chapter 11), the library's training path;
- nnlib-clear   `Model` + `Adam` (Chapters 6-9), the code as the chapters derive it;
- nnlib-blocks  `FastModel` + `Adam`: the fused blocks alone (the ablation that says whether they pay);
- nnlib-adam    `Model` + `FastAdam`: the buffered Adam alone;
- nnlib-clear64 `Model` + `Adam` in float64 (at batch 256 only): float32 ÷ float64, the table's first change;
- torch         PyTorch eager with its default Adam (the multi-tensor "foreach" implementation): the same layers, the
                same initial weights (copied from nnlib), the same batch size, dropout and Adam,
                `torch.set_num_threads` = nnlib's BLAS threads;
- torch-fused   the same with `torch.optim.Adam(fused=True)` (one fused kernel for the whole update);
- torch-compile the same with `torch.compile(net)` (Inductor) and `Adam(fused=True)`;
- sklearn     `MLPClassifier(solver="adam")` with `partial_fit` (one epoch per call): no dropout, its own
              initialisation (Glorot uniform), float32;
- gemm        only the network's 8 matrix products per batch (3 forward, 5 backward; the first layer needs no
              input gradient), same shapes and threads: the floor that a NumPy implementation cannot beat.

Needs `pip install -r requirements-bench.txt` (torch, scikit-learn) and MNIST (NNLIB_DATA or the cache).
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FRAMEWORKS = ("nnlib", "nnlib-clear", "nnlib-blocks", "nnlib-adam", "nnlib-clear64", "torch", "torch-fused",
              "torch-compile", "sklearn", "gemm")
NNLIB = {"nnlib": ("FastModel", "FastAdam"), "nnlib-clear": ("Model", "Adam"),
         "nnlib-blocks": ("FastModel", "Adam"), "nnlib-adam": ("Model", "FastAdam"),
         "nnlib-clear64": ("Model", "Adam")}
FLOAT64 = {"nnlib-clear64"}  # these train in float64 (the data and the model); all others in float32
TORCH = {"torch": {}, "torch-fused": {"fused": True}, "torch-compile": {"fused": True, "compile": True}}
DROPOUT, LR, SEED = 0.3, 1e-3, 0
PAUSE = 0.5  # seconds between two workers' epochs


def widths(hidden: int):
    "The network for a first hidden width: 784-400-100-10 for 400; the second hidden layer is a quarter of the first."
    return [784, hidden, hidden // 4, 10]


# --- workers: one process per framework, driven over stdin/stdout ------------------------------------------------
def numpy_blas_pool(pools) -> dict:
    """The BLAS thread pool NumPy itself loaded, among threadpoolctl's (SciPy and torch bring their own OpenBLAS):
    the one whose file is in NumPy's folder (numpy.libs in a wheel), else the one with NumPy's BLAS version."""
    import numpy
    blas = [pool for pool in pools if pool["user_api"] == "blas"]
    try:
        version = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]["version"]
    except (TypeError, KeyError):  # NumPy < 1.25
        version = None
    return (next((p for p in blas if "numpy" in (p.get("filepath") or "")), None)
            or next((p for p in blas if p.get("version") == version), None) or (blas[0] if blas else {}))


def blas_threads() -> int:
    "Threads of the BLAS NumPy uses (not another library's copy)."
    from threadpoolctl import threadpool_info
    return numpy_blas_pool(threadpool_info()).get("num_threads", 1)


def nnlib_network(cls, sizes, dtype=np.float32):
    from nnlib.init import he_normal
    from nnlib.layers import Dense, ReLU
    from nnlib.regularization import Dropout
    model = cls(sizes[0], seed=SEED, dtype=dtype)
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        model.add(Dense(n_in, n_out, rng=model.rng, init=he_normal)).add(ReLU()).add(Dropout(DROPOUT))
    return model.dense(sizes[-1], None, init=he_normal)


class Turns:
    "Waits for the driver's go before each epoch and reports the epoch's seconds after it."

    def wait(self):
        command = sys.stdin.readline().strip()
        if command != "epoch":
            raise SystemExit(0)
        self.start = time.perf_counter()

    def done(self, seconds=None, **extra):
        seconds = time.perf_counter() - self.start if seconds is None else seconds
        print(json.dumps({"seconds": seconds, **extra}), flush=True)


def run_nnlib(X, y, sizes, batch, epochs, kind: str):
    from nnlib.fast import FastAdam, FastModel
    from nnlib.optimizers import Adam
    from nnlib.training import Callback, Model
    classes = {"Model": Model, "FastModel": FastModel, "Adam": Adam, "FastAdam": FastAdam}
    model_class, optimizer_class = (classes[name] for name in NNLIB[kind])
    turns = Turns()

    class TakeTurns(Callback):
        def on_epoch_begin(self, model, epoch):
            turns.wait()

        def on_epoch_end(self, model, epoch, logs):
            turns.done(loss=logs["loss"])

    dtype = np.float64 if kind in FLOAT64 else np.float32
    model = nnlib_network(model_class, sizes, dtype)
    model.fit(X.astype(dtype), y, epochs=epochs, batch_size=batch, optimizer=optimizer_class(LR),
              callbacks=[TakeTurns()], verbose=False)


def run_torch(X, y, sizes, batch, epochs, kind: str = "torch"):
    import torch
    options = TORCH[kind]
    torch.set_num_threads(blas_threads())
    torch.manual_seed(SEED)
    from nnlib.training import Model
    reference = nnlib_network(Model, sizes)  # built only for its initial weights
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = torch.nn.Linear(n_in, n_out)
        dense = [layer for layer in reference.layers if "W" in layer.params][i]
        with torch.no_grad():  # nnlib stores W as (in, out), torch as (out, in)
            linear.weight.copy_(torch.from_numpy(dense.params["W"].T.copy()))
            linear.bias.copy_(torch.from_numpy(dense.params["b"]))
        layers.append(linear)
        if i < len(sizes) - 2:
            layers += [torch.nn.ReLU(), torch.nn.Dropout(DROPOUT)]
    net = torch.nn.Sequential(*layers).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=LR, fused=options.get("fused"))
    if options.get("compile"):
        net = torch.compile(net)  # compiled on the first (warm-up) epoch
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    turns = Turns()
    for _ in range(epochs):
        turns.wait()
        total = 0.0
        for idx in torch.randperm(len(Xt)).split(batch):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(Xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        turns.done(loss=total / len(Xt))


def run_sklearn(X, y, sizes, batch, epochs):
    import warnings
    from sklearn.neural_network import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), activation="relu", solver="adam", alpha=0.0,
                        batch_size=batch, learning_rate_init=LR, shuffle=True, random_state=SEED)
    classes = np.arange(10)
    turns = Turns()
    for _ in range(epochs):
        turns.wait()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.partial_fit(X, y, classes=classes)
        turns.done(loss=float(clf.loss_))


def run_gemm(X, y, sizes, batch, epochs):
    from nnlib.fast import matmul_floor
    turns = Turns()
    for _ in range(epochs):
        turns.wait()
        turns.done(seconds=matmul_floor(X, sizes, batch))


def worker(kind: str, batch: int, hidden: int, epochs: int):
    from nnlib.data import load_mnist
    X, y = load_mnist("train")
    sizes = widths(hidden)
    print(json.dumps({"ready": True, "blas_threads": blas_threads()}), flush=True)
    if kind in NNLIB:
        run_nnlib(X, y, sizes, batch, epochs, kind)
    elif kind in TORCH:
        run_torch(X, y, sizes, batch, epochs, kind)
    else:
        {"sklearn": run_sklearn, "gemm": run_gemm}[kind](X, y, sizes, batch, epochs)
    sys.stdin.readline()  # the driver's "quit"
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_mb": peak_kb / 1024}), flush=True)


# --- the driver ------------------------------------------------------------------------------------------------------
class Worker:
    def __init__(self, kind, batch, hidden, epochs):
        self.kind = kind
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", kind, "--batch", str(batch),
                                      "--hidden", str(hidden), "--epochs", str(epochs)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self.receive()

    def receive(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.kind} worker died (exit code {self.proc.wait()})")
        return json.loads(line)

    def epoch(self) -> dict:
        self.proc.stdin.write("epoch\n")
        self.proc.stdin.flush()
        return self.receive()

    def finish(self) -> float:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        peak = self.receive()["peak_rss_mb"]
        self.proc.wait()
        return peak


def compare(kinds, batch: int, hidden: int, rounds: int, warmup: int = 1) -> dict:
    """Run `warmup` + `rounds` epochs of every framework in turns; returns seconds per epoch and peak RSS."""
    workers = [Worker(kind, batch, hidden, warmup + rounds) for kind in kinds]  # started one after another
    seconds = {kind: [] for kind in kinds}
    for r in range(warmup + rounds):
        for w in workers:
            time.sleep(PAUSE)  # let the previous worker's idle BLAS/OpenMP threads stop spinning first
            result = w.epoch()
            if r >= warmup:
                seconds[w.kind].append(result["seconds"])
    peaks = {w.kind: w.finish() for w in workers}
    return {"batch": batch, "hidden": hidden, "seconds": seconds, "peak_rss_mb": peaks,
            "blas_threads": workers[0].info["blas_threads"]}


def ratio(result, a, b) -> float:
    "Median over rounds of (a's epoch / b's epoch in the same round)."
    return float(np.median(np.array(result["seconds"][a]) / np.array(result["seconds"][b])))


def fastest_torch(result) -> str:
    "The PyTorch configuration with the smallest median epoch: the one nnlib is compared against."
    kinds = [kind for kind in result["seconds"] if kind in TORCH]
    return min(kinds, key=lambda kind: np.median(result["seconds"][kind])) if kinds else "torch"


def machine() -> dict:
    """What the numbers depend on: CPU, cores, BLAS and its threads, the thread variables, the command."""
    import numpy
    from threadpoolctl import threadpool_info
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine()) \
        if Path("/proc/cpuinfo").exists() else platform.machine()
    try:
        config = numpy.show_config(mode="dicts")
    except TypeError:  # NumPy < 1.25
        config = None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy_config": config and {key: config.get(key) for key in ("Build Dependencies", "SIMD Extensions")},
            "threadpools": [{k: pool.get(k) for k in ("user_api", "internal_api", "num_threads", "version",
                                                      "architecture", "filepath")} for pool in threadpool_info()],
            "numpy_blas": {k: v for k, v in numpy_blas_pool(threadpool_info()).items()
                           if k in ("internal_api", "num_threads", "version", "architecture", "filepath")},
            "thread_env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
            "command": " ".join([Path(sys.executable).name] + sys.argv)}


def report(result, reference=None):
    reference = reference or fastest_torch(result)
    print(f"\nbatch {result['batch']}, network {'-'.join(map(str, widths(result['hidden'])))}, "
          f"{len(next(iter(result['seconds'].values())))} rounds after a warm-up epoch, "
          f"{result['blas_threads']} BLAS/torch threads")
    print(f"ratios: within each round, median over rounds; ÷ {reference} = the fastest PyTorch configuration here")
    print(f"{'':14s} {'s/epoch (median)':>17s} {'min–max':>13s} {'÷ ' + reference:>15s} {'÷ torch':>8s} "
          f"{'÷ gemm':>8s} {'peak RSS':>9s}")
    for kind, times in result["seconds"].items():
        cells = [f"{np.median(times):17.3f}", f"{min(times):6.3f}–{max(times):.3f}"]
        cells.append(f"{ratio(result, kind, reference):15.2f}" if reference in result["seconds"] else f"{'':15s}")
        cells.append(f"{ratio(result, kind, 'torch'):8.2f}" if "torch" in result["seconds"] else f"{'':8s}")
        cells.append(f"{ratio(result, kind, 'gemm'):8.2f}" if "gemm" in result["seconds"] else f"{'':8s}")
        cells.append(f"{result['peak_rss_mb'][kind]:6.0f} MB")
        print(f"{kind:14s} " + " ".join(cells))


def plot_widths(results, path: Path):
    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    hidden = [r["hidden"] for r in results]
    fig, ax = plt.subplots(figsize=(6, 4))
    for kind in results[0]["seconds"]:
        ax.plot(hidden, [np.median(r["seconds"][kind]) for r in results], "o-", label=kind)
    ax.set(xscale="log", yscale="log", xlabel="first hidden width h (network 784-h-h/4-10)",
           ylabel="seconds per epoch (median)", title="Epoch time against width, batch 256")
    ax.set_xticks(hidden, [str(h) for h in hidden])
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"\nplot: {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="batch 256 only, 3 rounds")
    parser.add_argument("--rounds", type=int, default=9, help="timed epochs per framework at batch 256 (default 9)")
    parser.add_argument("--output", type=Path, default=HERE / "results",
                        help="folder for results.json and the width plot (default benchmarks/results)")
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=256, help=argparse.SUPPRESS)
    parser.add_argument("--hidden", type=int, default=400, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.batch, args.hidden, args.epochs)

    import numpy
    import sklearn
    import torch
    print(f"{date.today()} · {platform.processor() or platform.machine()}, {os.cpu_count()} cores · "
          f"Python {platform.python_version()} · NumPy {numpy.__version__} · torch {torch.__version__} · "
          f"scikit-learn {sklearn.__version__}")
    results = {"date": str(date.today()), "cores": os.cpu_count(), "numpy": numpy.__version__,
               "torch": torch.__version__, "sklearn": sklearn.__version__, "machine": machine()}
    main_run = compare(FRAMEWORKS, 256, 400, 3 if args.quick else args.rounds)
    report(main_run)
    results["batch256"] = main_run
    best = fastest_torch(main_run)
    results["fastest_torch"] = best
    if not args.quick:
        for batch in (64, 1024):
            kinds = tuple(dict.fromkeys(("nnlib", "torch", best, "gemm")))  # eager torch once, if it is the fastest
            results[f"batch{batch}"] = compare(kinds, batch, 400, 5)
            report(results[f"batch{batch}"], best)
        results["widths"] = [compare(("nnlib", best, "gemm"), 256, h, 3) for h in (100, 200, 400, 800, 1600)]
        for r in results["widths"]:
            report(r, best)
        args.output.mkdir(parents=True, exist_ok=True)
        plot_widths(results["widths"], args.output / "epoch_time_vs_width.png")
    args.output.mkdir(parents=True, exist_ok=True)
    name = "results-quick.json" if args.quick else "results.json"  # a quick check never replaces Chapter 11's data
    (args.output / name).write_text(json.dumps(results, indent=1))
    print(f"results: {args.output / name}")


if __name__ == "__main__":
    main()
