"""Optuna peer of bench_tune (not a test): best value after each budget on the same test
functions, search spaces and seeds, with Optuna's TPESampler (defaults) and RandomSampler.

    /usr/bin/python3 bench/tune_optuna.py [SAMPLERS] [FUNCTIONS] [SEEDS] [BUDGETS]

Prints the same CSV as bench_tune: tool,sampler,function,seed,budget,best,regret,seconds.
The functions are defined exactly as in src/tune/test_functions.cpp.
"""
import math
import sys
import time

import optuna

PI = math.pi


def branin(x):
    a, b, c, r, s, t = 1.0, 5.1 / (4 * PI * PI), 5 / PI, 6, 10, 1 / (8 * PI)
    u = x[1] - b * x[0] ** 2 + c * x[0] - r
    return a * u * u + s * (1 - t) * math.cos(x[0]) + s


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
     [17, 8, 0.05, 10, 0.1, 14]]
P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(x):
    total = 0.0
    for i in range(4):
        inner = sum(A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2 for j in range(6))
        total += ALPHA[i] * math.exp(-inner)
    return -total


def quadratic(x):
    return sum((v - (0.5 * i + 0.3)) ** 2 for i, v in enumerate(x))


def group_loss(x):
    u = math.log10(x[0] / 1.6e-4)
    v = math.log10(x[1] / 8.5e-5) / 2
    w = (x[2] - 12.0) / 20.0
    k = int(round(x[3]))
    offset = 0.3 if k == 1 else (0.0 if k == 2 else 0.15)
    return u * u + v * v + w * w + 0.5 * u * w + 0.3 * u * v + offset


# name -> (function, minimum, [(kind, low, high, log | choices)])
FUNCTIONS = {
    "branin": (branin, 0.397887357729738, [("float", -5, 10, False), ("float", 0, 15, False)]),
    "hartmann6": (hartmann6, -3.32236801141551, [("float", 0, 1, False)] * 6),
    "quadratic": (quadratic, 0.0, [("float", -5, 5, False)] * 4),
    "group_loss": (group_loss, 0.0, [("float", 1e-5, 1e-3, True), ("float", 1e-8, 1e-4, True),
                                     ("int", 10, 60, False), ("cat", [1.0, 2.0, 3.0])]),
}


def suggest(trial, dims):
    x = []
    for i, d in enumerate(dims):
        name = "x%d" % i
        if d[0] == "float":
            x.append(trial.suggest_float(name, d[1], d[2], log=d[3]))
        elif d[0] == "int":
            x.append(trial.suggest_int(name, d[1], d[2], log=d[3]))
        else:
            x.append(trial.suggest_categorical(name, d[1]))
    return x


def main():
    samplers = (sys.argv[1] if len(sys.argv) > 1 else "tpe").split(",")
    functions = (sys.argv[2] if len(sys.argv) > 2 else "branin,hartmann6,group_loss").split(",")
    seeds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    budgets = [int(b) for b in (sys.argv[4] if len(sys.argv) > 4 else "20,50,100").split(",")]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print("tool,sampler,function,seed,budget,best,regret,seconds")
    for fname in functions:
        f, minimum, dims = FUNCTIONS[fname]
        for sname in samplers:
            for seed in range(seeds):
                sampler = (optuna.samplers.TPESampler(seed=seed) if sname == "tpe"
                           else optuna.samplers.RandomSampler(seed=seed))
                study = optuna.create_study(direction="minimize", sampler=sampler)
                start = time.perf_counter()
                study.optimize(lambda t: f(suggest(t, dims)), n_trials=max(budgets))
                seconds = time.perf_counter() - start
                values = [t.value for t in study.trials]
                for b in budgets:
                    best = min(values[:b])
                    print("optuna,%s,%s,%d,%d,%.10g,%.10g,%.4f"
                          % (sname, fname, seed, b, best, best - minimum, seconds))
                sys.stdout.flush()


if __name__ == "__main__":
    main()
