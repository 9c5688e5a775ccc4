#!/usr/bin/env python3
"""Prints the tables of docs/benchmarks.md from criterion's estimates of the last run.

Usage: python3 crates/sotto-bench/summarize.py [CRITERION_DIR]
(default: $CARGO_TARGET_DIR/criterion, else target/criterion).
"""

import json
import os
import sys
from pathlib import Path

# operation -> (target ratio of sotto to floor, or None; whether sotto must beat vodozemac)
OPERATIONS = {
    "session_setup": (1.2, False),
    "message_1kib": (1.3, True),
    "dh_ratchet_turn": (None, False),
    "safety_number": (None, False),
    "record_roundtrip": (None, False),
}


def median_ns(root: Path, group: str, function: str):
    path = root / group / function / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"]


def show(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def operations_table(root: Path):
    print("| operation | Sotto | floor | Sotto / floor | vodozemac Olm | target | met |")
    print("|---|---:|---:|---:|---:|---|---|")
    for group, (ratio_target, beat_olm) in OPERATIONS.items():
        sotto = median_ns(root, group, "sotto")
        floor = median_ns(root, group, "floor")
        olm = median_ns(root, group, "vodozemac_olm")
        ratio = sotto / floor if sotto and floor else None
        targets, met = [], []
        if ratio_target is not None and ratio is not None:
            targets.append(f"≤ {ratio_target}× floor")
            met.append(ratio <= ratio_target)
        if beat_olm and olm is not None and sotto is not None:
            targets.append("< Olm")
            met.append(sotto < olm)
        print(
            f"| {group} | {show(sotto)} | {show(floor)} | "
            f"{f'{ratio:.2f}×' if ratio else '–'} | {show(olm)} | "
            f"{', '.join(targets) or '–'} | "
            f"{('yes' if all(met) else 'no') if met else '–'} |"
        )


def pieces_table(root: Path):
    print("| group | bench | median |")
    print("|---|---|---:|")
    for group in ["setup_pieces", "message_pieces", "record_pieces", "primitives"]:
        directory = root / group
        if not directory.is_dir():
            continue
        for function in sorted(p.name for p in directory.iterdir() if p.is_dir()):
            if function == "report":
                continue
            print(f"| {group} | {function} | {show(median_ns(root, group, function))} |")


def main():
    default = Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    operations_table(root)
    print()
    pieces_table(root)


if __name__ == "__main__":
    main()
