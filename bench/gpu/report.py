#!/usr/bin/env python3
"""Achieved memory bandwidth of a run's main kernels, from the kernel times that
libgosok_kernel_timer.so wrote (GOSOK_KERNEL_TIMES) and each kernel's compulsory traffic:
every array element the kernel must read or write, counted once (what a kernel that
streams through memory without re-reading anything moves; caches can only make the real
traffic larger, so the fraction below is a lower bound on how well a kernel uses HBM).
Meant for device runs, where each kernel is one launch over the whole grid or all atoms.

usage: report.py weather TIMES NX NZ
       report.py md TIMES ATOMS HALF_NEIGHBOURS_PER_ATOM
       report.py energy RUN_FOLDER        (the energy gosok run recorded in diagnostics.json)
"""
import json
import os
import sys

PEAK = 4.8e12  # bytes/s: the H200's HBM3e
D, I = 8, 4    # bytes per double, per int

# Bytes per cell (weather) or per atom (md), with what they are.
TRAFFIC = {
    "weather": {
        "weather::flux_x": (8 * D, "read 4 state variables, write 4 fluxes"),
        "weather::update_x": (12 * D, "read 4 fluxes and 4 initial variables, write 4 variables"),
        "weather::flux_z": (8 * D, "read 4 state variables, write 4 fluxes"),
        "weather::update_z": (13 * D, "as update_x, and read the forcing density (gravity)"),
        "weather::totals": (4 * D, "read 4 state variables (a reduction)"),
    },
    "md": {
        "md::integrate_initial": (6 * D + 3 * D + 6 * D + I, "read and write x and v, read f and type"),
        "md::integrate_final": (6 * D + 3 * D + I, "read and write v, read f and type"),
        # x_i and type_i read, the list row and its count, f_i read and written (atomics);
        # the neighbours' positions come from cache when atoms are sorted by bin.
        "md::force_lj": (None, "read x, type, count and the half list, read and write f"),
    },
}


def energy(folder):
    e = json.load(open(os.path.join(folder, "diagnostics.json"))).get("energy", {})
    if e.get("measured"):
        print("  energy: {:.1f} J ({:.3e} kWh) on {} GPU(s), mean {:.1f} W over {:.1f} s".format(
            e["joules"], e["joules"] / 3.6e6, e["gpus"], e["mean_watts"], e["seconds"]))
    else:
        print("  energy: not measured:", e.get("reason", "no energy record"))
    return 0


def main(argv):
    if len(argv) == 2 and argv[0] == "energy":
        return energy(argv[1])
    if len(argv) != 4 or argv[0] not in TRAFFIC:
        print(__doc__, file=sys.stderr)
        return 2
    workload, path = argv[0], argv[1]
    times = {}
    for line in open(path):
        name, calls, seconds = line.rstrip("\n").split("\t")
        times[name] = (int(calls), float(seconds))
    if workload == "weather":
        items = int(argv[2]) * int(argv[3])
        unit = "cell"
    else:
        items, unit = int(argv[2]), "atom"
        neighbours = float(argv[3])
    print(f"{'kernel':24} {'calls':>6} {'mean [us]':>10} {'B/' + unit:>7} {'GB/s':>8} {'of 4.8 TB/s':>11}  traffic")
    for name, (per_item, what) in TRAFFIC[workload].items():
        if name not in times:
            print(f"{name:24} {'-':>6}  (not in {path})")
            continue
        if per_item is None:
            per_item = 3 * D + I + I + I * neighbours + 6 * D
        calls, seconds = times[name]
        mean = seconds / calls
        rate = per_item * items / mean
        print(f"{name:24} {calls:6d} {mean * 1e6:10.1f} {per_item:7.0f} {rate / 1e9:8.1f} {rate / PEAK:10.1%}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
