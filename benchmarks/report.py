"""Write the results: JSON (everything), a Markdown table (Allot beside the baseline, then
the budget rows), a log-log PNG of time against recipients, and the ratios against an
earlier JSON file."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.instances import budget_label
from benchmarks.runner import BASELINE, Row, measurements_to_json, refused
from benchmarks.scaling import MEMORY_FLOOR_MB, TIME_FLOOR_S, ScaleCheck

FORMAT = 1


def environment(command: list[str]) -> dict[str, Any]:
    """Where and when the run happened."""
    versions = {"python": platform.python_version()}
    for package in ("numpy", "highspy", "pulp", "ortools", "pydantic"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "format": FORMAT,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(command),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "load": _load(),
        },
        "versions": versions,
        "commit": commit,
    }


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def to_json(
    rows: list[Row], meta: dict[str, Any], scaling: list[ScaleCheck] | None = None
) -> dict[str, Any]:
    measurements = [m for row in rows for m in (row.allot, *row.backends, row.baseline)]
    return {
        "meta": meta,
        "measurements": measurements_to_json(measurements),
        "instances": [row.to_dict() for row in rows],
        "budget_rows": [c.to_dict() for c in scaling or []],
    }


def _s(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 0.01:
        return f"{value:.4f}"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _mb(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2g}" if value < 1 else f"{value:.3g}"


def markdown(rows: list[Row], meta: dict[str, Any], scaling: list[ScaleCheck] | None = None) -> str:
    """The full table: per instance, Allot ``auto`` beside the baseline; then the budget
    rows' table (:func:`budget_table`)."""
    budget_rows = [row for row in rows if row.spec.instance.budget is not None]
    rows = [row for row in rows if row.spec.instance.budget is None]  # the unscaled rows
    machine = meta["machine"]
    lines = [
        f"`{meta['command']}` on {meta['date']} (commit {meta.get('commit') or '?'}), "
        f"{machine['cpus']} cores, {machine['platform']}, load {machine.get('load')}; "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
    ]
    if rows:
        lines += [
            "",
            "| recipients | objective | rules | Allot path | validate s | build s | solve s "
            "| **total s** | peak MB | PuLP+CBC build s | solve s | **total s** | status "
            "| peak MB | Allot / PuLP | check |",
            "|" + "---:|" * 3 + "---|" + "---:|" * 9 + "---|---:|---|",
        ]
    for row in rows:
        a, b, inst = row.allot, row.baseline, row.spec.instance
        base_status = b.status if b.valid is not False else f"{b.status}, invalid answer"
        if b.valid and b.status != "optimal":
            base_status = f"{b.status}, valid answer"
        base_total = _s(b.total_s)
        ratio = _ratio(row.ratio)
        if b.killed_after_s is not None:
            base_total, ratio = f"> {b.killed_after_s:.0f}", f"< {ratio}"
        gate = ""
        if row.spec.max_ratio is not None:
            gate = " ✓" if row.gate_ok else f" ✗ (> {row.spec.max_ratio})"
        lines.append(
            f"| {inst.size:,} | {inst.objective} | {inst.rules} | {a.path or a.status} "
            f"| {_s(a.validate_s)} | {_s(a.build_s)} | {_s(a.solve_s)} | **{_s(a.total_s)}** "
            f"| {_mb(a.peak_mb)} | {_s(b.build_s)} | {_s(b.solve_s)} | **{base_total}** "
            f"| {base_status} | {_mb(b.peak_mb)} | {ratio}{gate} "
            f"| {verdict(row)} |"
        )
    backend_rows = [row for row in rows if row.backends]
    if backend_rows:
        lines += [
            "",
            "Allot's MILP backends on the same instances (each must return `auto`'s allocation):",
            "",
            "| recipients | objective | rules | backend | status | build s | total s | peak MB |",
            "|---:|---|---|---|---|---:|---:|---:|",
        ]
        for row in backend_rows:
            inst = row.spec.instance
            for m in row.backends:
                same = "same allocation" if m.units == row.allot.units else m.status
                lines.append(
                    f"| {inst.size:,} | {inst.objective} | {inst.rules} "
                    f"| {m.solver.split(':')[1]} | {same} | {_s(m.build_s)} "
                    f"| {_s(m.total_s)} | {_mb(m.peak_mb)} |"
                )
    if budget_rows:
        lines += ["", *budget_table(budget_rows, scaling or [])]
    return "\n".join(lines) + "\n"


def budget_table(rows: list[Row], scaling: list[ScaleCheck]) -> list[str]:
    """The budget rows: Allot's time and peak memory at each budget, and both over the same
    instance's at its smallest budget in the run (floored as the budget gate does)."""
    by_name = {c.instance: c for c in scaling}
    lines = [
        "Budget rows: the same instances at 10^3 to 10^12 units. Allot s is the whole "
        "`solve()` call and CPU s its CPU time (each the best of the repeats), peak MB the "
        "measuring process's peak above its start; the ratios are CPU time and peak memory "
        "over the same instance's at its smallest budget here (10^3; 10^6 for 840 and 10,000 "
        "recipients, which 10^3 units are too few for), against at least "
        f"{TIME_FLOOR_S * 1000:g} ms and {MEMORY_FLOOR_MB:g} MB.",
        "",
        "| recipients | objective | rules | budget | Allot path | **Allot s** | CPU s | peak MB "
        "| time ratio | memory ratio | PuLP+CBC | check |",
        "|---:|---|---|---:|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        a, inst = row.allot, row.spec.instance
        check = by_name.get(inst.name)
        gate = ""
        if check is not None and check.max_ratio is not None and check.reference is not None:
            over = f" ✗ (> {check.max_ratio:g})"
            gate = " ✓" if check.ok else " ✗ (no answer)" if "no optimal" in check.detail else over
        base = row.baseline.status
        if row.baseline.valid is False:
            base = f"{base}, invalid answer"
        lines.append(
            f"| {inst.size:,} | {inst.objective} | {inst.rules} | {_budget(inst.units)} "
            f"| {a.path or a.status} | **{_s(a.total_s)}** | {_s(a.cpu_s)} | {_mb(a.peak_mb)} "
            f"| {_ratio(check.time_ratio if check else None)}{gate} "
            f"| {_ratio(check.memory_ratio if check else None)} | {base} "
            f"| {verdict(row)} |"
        )
    return lines


def _budget(units: int) -> str:
    label = budget_label(units)
    return f"10^{label[2:]}" if label.startswith("1e") else f"{units:,}"


def verdict(row: Row) -> str:
    """The check column: ``ok: <how>``, ``FAIL: <why>``, or ``refused: too large`` for a
    run Allot refused before solving (no answer to check)."""
    if row.check_ok and refused(row.allot):
        return "refused: too large"
    return f"{'ok' if row.check_ok else 'FAIL'}: {_short(row.check)}"


def _short(check: str) -> str:
    """The check column: what the comparison with the baseline found."""
    parts = []
    for item in check.split("; "):
        solver, _, text = item.partition(": ")
        if solver == "allot:auto":
            parts.append(text.split(" (")[0])
        elif "not the allocation" in text or text.startswith(("worse", "invalid")):
            parts.append(item)
    return ", ".join(parts)


def plot(rows: list[Row], path: Path) -> None:
    """Log-log plot of total seconds against recipients: Allot ``auto`` and the baseline,
    one panel per rule set; hollow markers where the baseline gave no valid optimum (the
    budget rows are left out: their table is the one to read)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for row in rows if row.spec.instance.budget is None] or rows

    rule_sets = [
        r for r in ("bounds", "groups", "all") if any(x.spec.instance.rules == r for x in rows)
    ]
    fig, axes = plt.subplots(
        1, len(rule_sets), figsize=(4.6 * len(rule_sets), 4.2), sharey=True, squeeze=False
    )
    for ax, rules in zip(axes[0], rule_sets, strict=True):
        chosen = [r for r in rows if r.spec.instance.rules == rules]
        for who, colour in (("Allot", "#1f6feb"), ("PuLP + CBC", "#d1495b")):
            sizes, times, solid = [], [], []
            for row in chosen:
                m = row.allot if who == "Allot" else row.baseline
                seconds = m.total_s if m.total_s is not None else m.killed_after_s
                if seconds is None:
                    continue
                sizes.append(row.spec.instance.size)
                times.append(seconds)
                solid.append(m.status == "optimal" and m.valid is not False)
            for flag, face in ((True, colour), (False, "none")):
                xs = [s for s, f in zip(sizes, solid, strict=True) if f is flag]
                ys = [t for t, f in zip(times, solid, strict=True) if f is flag]
                if xs:
                    ax.scatter(xs, ys, s=22, facecolors=face, edgecolors=colour, alpha=0.8)
            medians = sorted(
                (s, sorted(t for s2, t in zip(sizes, times, strict=True) if s2 == s))
                for s in set(sizes)
            )
            if medians:
                ax.plot(
                    [s for s, _ in medians],
                    [ts[len(ts) // 2] for _, ts in medians],
                    color=colour,
                    label=who,
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"rules: {rules}")
        ax.set_xlabel("recipients")
        ax.grid(True, which="both", alpha=0.25)
    axes[0][0].set_ylabel("seconds (build + solve), log scale")
    axes[0][-1].legend(loc="upper left", title="hollow: no proven optimum", fontsize=8)
    fig.suptitle("Allot (auto) vs. a plain PuLP + CBC model, every objective", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def compare_files(new: dict[str, Any], old: dict[str, Any]) -> str:
    """Per measurement, the new total time over the old; per instance, the gated ratio."""
    before = {f"{m['instance']}/{m['solver']}": m for m in old["measurements"]}
    lines = [
        f"against {old['meta'].get('date')} (commit {old['meta'].get('commit') or '?'})",
        f"{'instance / solver':56s} {'old s':>9s} {'new s':>9s} {'new/old':>8s}",
    ]
    for m in new["measurements"]:
        key = f"{m['instance']}/{m['solver']}"
        prior = before.get(key)
        if prior is None or not prior.get("total_s") or m.get("total_s") is None:
            continue
        lines.append(
            f"{key:56s} {prior['total_s']:9.3f} {m['total_s']:9.3f} "
            f"{m['total_s'] / prior['total_s']:8.2f}"
        )
    ratios = {i["instance"]: i for i in old.get("instances", [])}
    lines.append(f"{'instance: Allot / baseline':56s} {'old':>9s} {'new':>9s}")
    for inst in new.get("instances", []):
        prior = ratios.get(inst["instance"])
        if prior is None or prior.get("ratio") is None or inst.get("ratio") is None:
            continue
        lines.append(f"{inst['instance']:56s} {prior['ratio']:9.4f} {inst['ratio']:9.4f}")
    return "\n".join(lines) + "\n"


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


__all__ = ["BASELINE", "compare_files", "environment", "markdown", "plot", "to_json", "write"]
