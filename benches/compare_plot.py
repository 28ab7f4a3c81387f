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
    refused = [int(r["queries_refused"]) for r in rows]
    cut_off = [int(r["queries_cut_off"]) for r in rows]
    failed = [a + b for a, b in zip(refused, cut_off)]
    palette = ["#2a7ab0", "#7a7a7a", "#c0392b", "#d68910", "#8e44ad", "#16a085"]
    colors = [palette[i % len(palette)] for i in range(len(rows))]

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 1.2 + 0.9 * len(rows)))
    bars = left.barh(labels, p50, color=colors)
    left.set_xscale("log")
    left.set_xlabel("until the new catalog answers (p50, s, log scale)")
    left.invert_yaxis()
    for bar, value in zip(bars, p50):
        text = f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
        left.text(bar.get_width() * 1.08, bar.get_y() + bar.get_height() / 2, text, va="center")
    left.set_xlim(left=min(p50) / 4, right=max(p50) * 6)

    right.barh(labels, cut_off, color="#c0392b", label="cut off while running")
    right.barh(labels, refused, left=cut_off, color="#f5b7b1", label="refused (no coordinator ready)")
    right.set_xlabel("queries on other catalogs that failed meanwhile")
    right.invert_yaxis()
    right.set_yticklabels([])
    top = max(failed + [1])
    for y, (value, a, b) in enumerate(zip(failed, cut_off, refused)):
        right.text(value + top * 0.02, y, f"{value} ({a} cut off, {b} refused)" if value else "0", va="center")
    right.set_xlim(right=top * 1.6 + 1)
    right.legend(loc="upper right", fontsize="small")

    fig.suptitle("Adding a catalog while queries run, Trino 476 and PrestoDB 0.296 (catalog-reloader benches/compare.rs)")
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
