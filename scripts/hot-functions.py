"""Prints the hot-function list for the linker (see scripts/hot-functions).

Usage: hot-functions.py <profiled binary> <other binary> <callgrind file>...

The functions the callgrind runs of the profiled binary (the release build) entered, in
the order first met, then the same functions as named in the other binary (the `cargo
bench` build): a Rust name ends in a hash (`17h<16 hex>E`) that differs between the two
profiles, so those are matched without it.
"""

import re
import subprocess
import sys

HASH = re.compile(r"17h[0-9a-f]{16}E$")


def code_symbols(binary):
    out = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True,
                         check=True).stdout
    return [parts[2] for parts in map(str.split, out.splitlines())
            if len(parts) == 3 and parts[1] in "tTwW"]


def entered(profiles, code):
    seen = {}
    for profile in profiles:
        with open(profile, errors="replace") as lines:
            for line in lines:
                m = re.match(r"^c?fn=\(\d+\) (.+)$", line.rstrip("\n"))
                if m and m.group(1) in code:
                    seen.setdefault(m.group(1), None)
    return list(seen)


def main():
    profiled, other, *profiles = sys.argv[1:]
    hot = entered(profiles, set(code_symbols(profiled)))
    by_stem = {}
    for name in code_symbols(other):
        by_stem.setdefault(HASH.sub("", name), []).append(name)
    names = dict.fromkeys(hot)
    for name in hot:
        for twin in by_stem.get(HASH.sub("", name), []):
            names.setdefault(twin, None)
    print("\n".join(names))


if __name__ == "__main__":
    main()
