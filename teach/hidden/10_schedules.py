"""Hidden tests for Chapter 10 (Learning-rate schedules). Each test_<exercise>(ns) receives the student's namespace.

Each schedule lives in the student's sandbox; the test sets its starting rate η₀ and asks for the rate of each
epoch (epochs count from 1), against the formulas worked out here.
"""
import math

from nnlib_teach.expect import close, number

ETA0 = 0.2


def _rates(schedule, epochs):
    schedule.initial_lr = ETA0
    return [number(schedule.lr_at(e), f"lr_at({e})") for e in epochs]


def test_step_decay(ns):
    epochs = range(1, 13)
    with ns.case("×0.5 every 3 epochs"):
        close(_rates(ns["StepDecay"](every=3, factor=0.5), epochs),
              [ETA0 * 0.5 ** ((e - 1) // 3) for e in epochs], "StepDecay(every=3, factor=0.5).lr_at", rtol=1e-12)
    with ns.case("×0.1 every epoch"):
        close(_rates(ns["StepDecay"](every=1, factor=0.1), range(1, 5)),
              [ETA0 * 0.1 ** (e - 1) for e in range(1, 5)], "StepDecay(every=1, factor=0.1).lr_at", rtol=1e-12)


def test_exponential_decay(ns):
    epochs = range(1, 11)
    close(_rates(ns["ExponentialDecay"](factor=0.9), epochs), [ETA0 * 0.9 ** (e - 1) for e in epochs],
          "ExponentialDecay(factor=0.9).lr_at", rtol=1e-12)


def test_inverse_time_decay(ns):
    epochs = range(1, 11)
    close(_rates(ns["InverseTimeDecay"](decay=0.5), epochs), [ETA0 / (1 + 0.5 * (e - 1)) for e in epochs],
          "InverseTimeDecay(decay=0.5).lr_at", rtol=1e-12)


def test_cosine_decay(ns):
    def cosine(e, total, low):
        return low + 0.5 * (ETA0 - low) * (1 + math.cos(math.pi * min(e - 1, total) / total))

    with ns.case("over 8 epochs down to 0", weight=2):
        close(_rates(ns["CosineDecay"](epochs=8), range(1, 10)), [cosine(e, 8, 0.0) for e in range(1, 10)],
              "CosineDecay(epochs=8).lr_at", rtol=1e-12, atol=1e-15)
    with ns.case("a floor min_lr, held after the last epoch"):
        close(_rates(ns["CosineDecay"](epochs=5, min_lr=0.01), range(1, 12)),
              [cosine(e, 5, 0.01) for e in range(1, 12)], "CosineDecay(epochs=5, min_lr=0.01).lr_at", rtol=1e-12)
