"""pytest-benchmark JSON -> markdown table and bar chart.

    python -m benchmarks.report results/benchmark.json [--out benchmarks/results]

Rows pair the contenders of one benchmark group (``extra_info["impl"]``:
ours, torch, torch.compile). Time is each contender's minimum over its
rounds (the least disturbed by other processes); ``ours/torch`` below 1 means
we are faster. GFLOP/s is the analytic GEMM FLOP count
(:mod:`benchmarks.flops`) over our time, and ``% peak`` relates it to the
machine's float32 GEMM rate measured in the same run
(``benchmarks/test_peak.py``). Memory rows give the peak RSS a 1024x768 step
adds to its process. The chart plots ours/torch per group on a log axis.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

IMPLS = ("ours", "torch", "torch analytic-LRN", "torch CL", "torch.compile")
KIND_ORDER = ("step", "dream", "kernel", "memory", "peak")


def load(path) -> dict:
    """``{group: {impl: benchmark dict}}`` and the machine info."""
    data = json.loads(Path(path).read_text())
    groups: dict = defaultdict(dict)
    for b in data["benchmarks"]:
        groups[b["group"]][b["extra_info"].get("impl", "ours")] = b
    return data, dict(groups)


def gemm_peak(groups) -> float | None:
    """Measured GEMM rate in GFLOP/s (best round), or None if not run."""
    b = groups.get("gemm peak", {}).get("numpy")
    if b is None:
        return None
    return b["extra_info"]["flops"] / b["stats"]["min"] / 1e9


def _ms(s: float) -> str:
    if s >= 0.1:
        return f"{s * 1e3:,.0f}"
    return f"{s * 1e3:,.1f}" if s >= 0.01 else f"{s * 1e3:.3f}"


def _sort_key(item):
    group, impls = item
    kind = next(iter(impls.values()))["extra_info"].get("kind", "kernel")
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else 9, group


def contenders(groups) -> list[str]:
    """Every ``impl`` in the run: ours, torch, torch.compile first."""
    seen = {i for impls in groups.values() for i in impls}
    seen.discard("numpy")  # the GEMM peak
    return [i for i in IMPLS if i in seen] + sorted(seen - set(IMPLS))


def rows(groups, peak):
    """Table rows (one per group) and chart points ``(group, ratio)``."""
    out, points = [], []
    cols = contenders(groups)
    for group, impls in sorted(groups.items(), key=_sort_key):
        first = next(iter(impls.values()))
        kind = first["extra_info"].get("kind")
        if kind == "peak":
            continue
        if kind == "memory":
            cells = [
                f"{impls[i]['extra_info']['step_mib']:,.0f} MiB" if i in impls else ""
                for i in cols
            ]
            o, t = impls.get("ours"), impls.get("torch")
            ratio = (
                f"{o['extra_info']['step_mib'] / t['extra_info']['step_mib']:.2f}"
                if o and t and t["extra_info"]["step_mib"] > 0
                else ""
            )
            out.append([f"{group} (peak RSS added)", *cells, ratio, "", "", ""])
            continue
        t = {i: impls[i]["stats"]["min"] for i in cols if i in impls}
        ratio = ""
        if "ours" in t and "torch" in t:
            r = t["ours"] / t["torch"]
            ratio = f"**{r:.2f}**" if r >= 0.1 else f"**{r:.3f}**"
            points.append((group, r))
        rivals = [v for k, v in t.items() if k.startswith("torch")]
        best = f"{t['ours'] / min(rivals):.2f}" if "ours" in t and rivals else ""
        gf = pk = ""
        flops = first["extra_info"].get("flops", 0)
        if flops and "ours" in t:
            rate = flops / t["ours"] / 1e9
            gf = f"{rate:.1f}"
            pk = f"{100 * rate / peak:.0f}%" if peak else ""
        cells = [_ms(t[i]) if i in t else "" for i in cols]
        out.append([group, *cells, ratio, best, gf, pk])
    return out, points


def markdown(data, groups) -> str:
    peak = gemm_peak(groups)
    table, _ = rows(groups, peak)
    info = data.get("machine_info", {})
    cpu = info.get("cpu", {}).get("brand_raw", "unknown CPU")
    cols = contenders(groups)
    names = {"torch": "torch eager"}
    head = [
        "| case | "
        + " | ".join(f"{names.get(i, i)} (ms)" for i in cols)
        + " | ours/torch eager | ours/best torch | ours GFLOP/s | % GEMM peak |",
        "| --- |" + " ---: |" * (len(cols) + 4),
    ]
    lines = [
        f"Machine: {cpu}, {info.get('cpu', {}).get('count', '?')} logical CPUs; "
        f"float32 GEMM peak measured in this run: "
        + (f"**{peak:.0f} GFLOP/s**" if peak else "not measured")
        + f"; run {data.get('datetime', '')}.",
        "",
        "Times are the best round; GFLOP/s counts GEMM work only "
        "(2 x MACs forward, the same for backward-to-input).",
        "",
        *head,
        *("| " + " | ".join(r) + " |" for r in table),
        "",
    ]
    return "\n".join(lines)


def chart(groups, path) -> None:
    """Horizontal bars of ours/torch per group (log axis; < 1 = we win)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, points = rows(groups, gemm_peak(groups))
    labels = [g for g, _ in points]
    ratios = [r for _, r in points]
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(points) + 1.5))
    colors = ["tab:green" if r <= 1 else "tab:red" for r in ratios]
    ax.barh(range(len(points)), ratios, color=colors)
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(range(len(points)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("time ours / time PyTorch eager (log; < 1: ours faster)")
    ax.set_title("inceptionism (NumPy) vs PyTorch eager, CPU float32")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="pytest-benchmark --benchmark-json file")
    ap.add_argument("--out", default=None, help="folder (default: the JSON's)")
    ap.add_argument("--name", default="benchmark", help="output file stem")
    args = ap.parse_args(argv)
    data, groups = load(args.json)
    out = Path(args.out or Path(args.json).parent)
    out.mkdir(parents=True, exist_ok=True)
    md = out / f"{args.name}.md"
    md.write_text(markdown(data, groups))
    png = out / f"{args.name}.png"
    chart(groups, png)
    print(f"wrote {md} and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
