#!/usr/bin/env python3
"""Runs a build's ctest suite from the list ctest itself exported (`ctest --show-only=json-v1`),
on a machine that has the build's binaries but no CMake: the GPU check (bench/gpu/run.sh)
carries a CUDA build there.

usage: run_tests.py TESTS_JSON [--budget SECONDS] [--exclude REGEX]

Each test runs with its command, working directory, ENVIRONMENT and TIMEOUT as ctest
would; one line per test (ok, FAIL, or skipped and why), then a summary. Tests left when
the budget is spent are listed as not run. Exit status 1 when a test failed."""
import json
import os
import re
import subprocess
import sys
import time


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    path, budget, exclude = argv[0], 1e9, None
    args = argv[1:]
    while args:
        if args[0] == "--budget" and len(args) > 1:
            budget, args = float(args[1]), args[2:]
        elif args[0] == "--exclude" and len(args) > 1:
            exclude, args = re.compile(args[1]), args[2:]
        else:
            print(__doc__, file=sys.stderr)
            return 2
    with open(path) as f:
        tests = json.load(f)["tests"]
    start = time.monotonic()
    counts = {"ok": 0, "FAIL": 0, "skipped": 0, "not run": 0}
    failed = []
    for test in tests:
        name = test["name"]
        props = {p["name"]: p["value"] for p in test.get("properties", [])}
        if exclude and exclude.search(name):
            counts["skipped"] += 1
            print(f"skipped  {name} (excluded here)")
            continue
        left = budget - (time.monotonic() - start)
        if left < 5:
            counts["not run"] += 1
            print(f"not run  {name} (time budget spent)")
            continue
        env = dict(os.environ)
        for item in props.get("ENVIRONMENT", []):
            key, _, value = item.partition("=")
            env[key] = value
        timeout = min(float(props.get("TIMEOUT", 1500)), left)
        began = time.monotonic()
        try:
            done = subprocess.run(test["command"], cwd=props.get("WORKING_DIRECTORY"), env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
            status, output = done.returncode, done.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            status, output = "timeout", (e.stdout or b"").decode(errors="replace")
        except OSError as e:
            status, output = "cannot start", str(e)
        seconds = time.monotonic() - began
        if status == 0:
            counts["ok"] += 1
            print(f"ok       {name} ({seconds:.1f} s)")
        else:
            counts["FAIL"] += 1
            failed.append(name)
            print(f"FAIL     {name} ({seconds:.1f} s, {status})")
            print("\n".join("    | " + line for line in output.splitlines()[-30:]))
        sys.stdout.flush()
    print("tests: " + ", ".join(f"{n} {k}" for k, n in counts.items()) +
          f" in {time.monotonic() - start:.0f} s" + (f"; failed: {' '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
