#!/usr/bin/env python3
"""Counts test cases over meson testlog.json files and prints
"N passed, M failed". A test binary that prints its own "N passed, M failed"
line (or node --test's "# pass N" / "# fail M") counts as its cases; a test that ended badly with no failed case
counted (a crash, a timeout) counts one failure more. A missing log (the
build failed) is a failure too. Arguments: [prefix:]path ..."""
import json
import re
import sys

LINE = re.compile(r"^(\d+) passed, (\d+) failed\s*$", re.M)
TAP_PASS = re.compile(r"^# pass (\d+)\s*$", re.M)
TAP_FAIL = re.compile(r"^# fail (\d+)\s*$", re.M)


def count(path, prefix):
    passed = failed = 0
    try:
        lines = open(path).read().splitlines()
    except OSError:
        print(f"{prefix}{path}: no test log (did the build fail?)")
        return 0, 1
    for line in lines:
        t = json.loads(line)
        ok = t["result"] in ("OK", "EXPECTEDFAIL")
        out = t.get("stdout") or ""
        found = LINE.findall(out)
        if not found and TAP_PASS.search(out):  # node --test
            found = [(TAP_PASS.findall(out)[-1],
                      (TAP_FAIL.findall(out) or ["0"])[-1])]
        p, f = (int(found[-1][0]), int(found[-1][1])) if found else (0, 0)
        if not found:
            p, f = (1, 0) if ok else (0, 1)
        elif not ok and f == 0:
            f = 1
        if not ok:
            print(f"FAILED: {prefix}{t['name']} ({t['result']})")
        passed, failed = passed + p, failed + f
    return passed, failed


def main():
    total_p = total_f = 0
    for arg in sys.argv[1:]:
        prefix, _, path = arg.rpartition(":")
        p, f = count(path, prefix + ":" if prefix else "")
        total_p, total_f = total_p + p, total_f + f
    print(f"{total_p} passed, {total_f} failed")
    return 1 if total_f or not total_p else 0


if __name__ == "__main__":
    sys.exit(main())
