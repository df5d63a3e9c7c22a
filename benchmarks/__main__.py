"""``python -m benchmarks run [--quick] [--out results.json] [--compare old.json]``, and
``python -m benchmarks instance SIZE OBJECTIVE RULES [--budget 1e12] --out FILE.json`` to
write one generated instance as a scenario file (for timing ``allot solve`` as a whole
process).

Runs the registry (the quick suite with ``--quick``), prints a line per measurement and
the Markdown table, writes the JSON (and, if asked, the Markdown and the PNG), and exits
1 when an answer fails its check or, in the quick suite, an Allot / baseline ratio or a
budget row's time or memory against its small budget is over its gate (2 for bad
arguments).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path

from benchmarks.instances import OBJECTIVES, RULE_SETS, InstanceSpec, generate, parse_budget
from benchmarks.registry import full_suite, quick_suite
from benchmarks.report import compare_files, environment, markdown, plot, to_json, write
from benchmarks.runner import measure_again, refused, run_suite
from benchmarks.scaling import budget_checks


def _budget(text: str) -> int:
    try:
        return parse_budget(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the benchmarks")
    run.add_argument("--quick", action="store_true", help="the CI suite (about a minute)")
    run.add_argument("--out", type=Path, help="write the results as JSON here")
    run.add_argument("--markdown", type=Path, help="write the Markdown table here")
    run.add_argument("--plot", type=Path, help="write the log-log PNG here")
    run.add_argument("--compare", type=Path, help="print the ratios against this JSON")
    run.add_argument("--only", help="only instances whose name matches this glob")
    one = sub.add_parser("instance", help="write one generated instance as a scenario file")
    one.add_argument("size", type=int)
    one.add_argument("objective", choices=OBJECTIVES)
    one.add_argument("rules", choices=RULE_SETS)
    one.add_argument("--seed", type=int, default=0)
    one.add_argument(
        "--budget",
        type=_budget,
        help="units to allocate, e.g. 1e12 (at most 1e15; default 40 a recipient)",
    )
    one.add_argument("--out", type=Path, required=True, help="the JSON scenario file")
    args = parser.parse_args(argv)
    if args.command == "instance":
        spec = InstanceSpec(args.size, args.objective, args.rules, args.seed, args.budget)
        args.out.write_text(json.dumps(generate(spec), ensure_ascii=False) + "\n")
        write(f"wrote {spec.name} to {args.out}\n")
        return 0

    old = None
    if args.compare is not None:
        try:
            old = json.loads(args.compare.read_text())
        except (OSError, ValueError) as exc:
            parser.error(f"--compare {args.compare}: {exc}")
    specs = quick_suite() if args.quick else full_suite()
    if args.only:
        specs = [s for s in specs if fnmatch.fnmatch(s.name, args.only)]
        if not specs:
            parser.error(f"--only {args.only}: no instance matches")
    rows = run_suite(specs, log=lambda line: write(line + "\n"))
    scaling = budget_checks(rows, measure=measure_again, log=lambda line: write(line + "\n"))
    command = ["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]
    meta = environment(command)
    results = to_json(rows, meta, scaling)
    table = markdown(rows, meta, scaling)
    write("\n" + table)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    if args.markdown is not None:
        args.markdown.write_text(table)
    if args.plot is not None:
        plot(rows, args.plot)
    if old is not None:
        write("\n" + compare_files(results, old))
    failed = [r for r in rows if not r.check_ok]
    over = [r for r in rows if not r.gate_ok]
    not_flat = [c for c in scaling if not c.ok]
    for row in failed:
        write(f"CHECK FAILED {row.spec.name}: {row.check}\n")
    for row in over:
        write(
            f"RATIO GATE {row.spec.name}: Allot / baseline = {row.ratio} > {row.spec.max_ratio}\n"
        )
    for check in not_flat:
        write(f"BUDGET GATE {check.instance}: {check.detail}\n")
    for check in scaling:
        if check.max_ratio is not None and check.reference is None:
            write(f"budget gate {check.instance}: {check.detail}\n")
    if failed or over or not_flat:
        return 1
    gated = sum(1 for c in scaling if c.max_ratio is not None and c.reference is not None)
    declined = [row for row in rows if refused(row.allot)]
    for row in declined:
        write(f"refused {row.spec.name}: {row.allot.detail[:160]}\n")
    write(
        f"\nall {len(rows) - len(declined)} instances checked"
        + (f" ({len(declined)} refused as too large: no answer)" if declined else "")
        + "; every ratio within its gate"
        + (f"; {gated} budget gates passed" if gated else "")
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
