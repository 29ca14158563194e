#!/usr/bin/env python3
"""Compares two runs of the same input quantity by quantity, within the tolerances of
backend_tolerances.json (or exactly, with --exact), and prints one line per quantity.

usage: compare_runs.py [--exact] [--tolerances FILE] WORKLOAD REFERENCE_DIR OTHER_DIR

WORKLOAD is weather (diagnostics.json, last record) or md (thermo.dat, last row). Exit
status 0 when every quantity agrees, 1 when one does not, 2 for bad usage or input.
Standard library only, so that it runs wherever Python does (a GPU node included)."""
import json
import math
import os
import sys

MD_COLUMNS = ["step", "time", "temp", "e_pair", "e_mol", "etotal", "press"]


def load(workload, folder):
    if workload == "weather":
        path = os.path.join(folder, "diagnostics.json")
        with open(path) as f:
            records = json.load(f).get("records", [])
        if not records:
            raise ValueError(f"{path}: no diagnostics records")
        return records[-1]
    path = os.path.join(folder, "thermo.dat")
    rows = [line.split() for line in open(path) if line.strip() and not line.startswith("#")]
    if not rows:
        raise ValueError(f"{path}: no thermo rows")
    return dict(zip(MD_COLUMNS, (float(v) for v in rows[-1])))


def main(argv):
    exact = "--exact" in argv
    argv = [a for a in argv if a != "--exact"]
    tolerances = os.path.join(os.path.dirname(os.path.abspath(__file__)), "backend_tolerances.json")
    if len(argv) >= 2 and argv[0] == "--tolerances":
        tolerances, argv = argv[1], argv[2:]
    if len(argv) != 3 or argv[0] not in ("weather", "md"):
        print(__doc__, file=sys.stderr)
        return 2
    workload, ref_dir, other_dir = argv
    with open(tolerances) as f:
        table = json.load(f)[workload]["quantities"]
    try:
        ref, other = load(workload, ref_dir), load(workload, other_dir)
    except (OSError, ValueError) as e:
        print(f"compare_runs: {e}", file=sys.stderr)
        return 2
    if workload == "md" and ref["step"] != other["step"]:
        print(f"compare_runs: the runs end at steps {ref['step']:g} and {other['step']:g}", file=sys.stderr)
        return 2
    failed = 0
    print(f"{'quantity':16} {'reference':>24} {'other':>24} {'|diff|':>10} {'allowed':>10}")
    for name, rule in table.items():
        a, b = float(ref[name]), float(other[name])
        scale = abs(float(ref[rule["scale"]])) if "scale" in rule else abs(a)
        allowed = 0.0 if exact else max(rule.get("relative", 0.0) * scale, rule.get("absolute", 0.0))
        diff = abs(a - b)
        ok = math.isfinite(a) and math.isfinite(b) and (diff <= allowed if not exact else a == b)
        failed += not ok
        print(f"{name:16} {a:24.17g} {b:24.17g} {diff:10.3g} {allowed:10.3g} {'ok' if ok else 'DIFFERS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
