"""The plot of benches/compare.rs: time until a new catalog answers, and queries failed meanwhile.

Usage: compare_plot.py RESULTS.csv OUT.png
"""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(source, target):
    with open(source, newline="") as f:
        rows = list(csv.DictReader(f))
    labels = [r["approach"].split(" (")[0].replace(", ", ",\n") for r in rows]
    p50 = [float(r["p50_ms"]) / 1000 for r in rows]
    failed = [int(r["queries_failed"]) for r in rows]
    colors = ["#2a7ab0", "#7a7a7a", "#c0392b"][: len(rows)]

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    bars = left.barh(labels, p50, color=colors)
    left.set_xscale("log")
    left.set_xlabel("until the new catalog answers (p50, s, log scale)")
    left.invert_yaxis()
    for bar, value in zip(bars, p50):
        text = f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
        left.text(bar.get_width() * 1.08, bar.get_y() + bar.get_height() / 2, text, va="center")
    left.set_xlim(left=min(p50) / 4, right=max(p50) * 6)

    bars = right.barh(labels, failed, color=colors)
    right.set_xlabel("queries on other catalogs that failed meanwhile")
    right.invert_yaxis()
    right.set_yticklabels([])
    for bar, value in zip(bars, failed):
        right.text(bar.get_width() + max(failed + [1]) * 0.02, bar.get_y() + bar.get_height() / 2, str(value), va="center")
    right.set_xlim(right=max(failed + [1]) * 1.3 + 1)

    fig.suptitle("Adding a catalog to Trino 476 while queries run (catalog-reloader benches/compare.rs)")
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
