#!/usr/bin/env python3
"""Stall reasons (warp cycles per issued instruction) and the executed SASS instruction mix of one kernel, from the
raw and source pages ncu exports as CSV: ncu-mix.py RAW.csv SASS.csv"""
import collections
import csv
import sys

raw = list(csv.reader(open(sys.argv[1])))
print("stall reasons, warp cycles per issued instruction:")
for name, value in sorted(zip(raw[0], raw[-1]), key=lambda t: -float(t[1] or 0) if 'issue_stalled' in t[0] else 0):
    if 'average_warps_issue_stalled' in name and float(value or 0) >= 0.05:
        print(f"  {float(value):6.2f}  {name.split('stalled_')[1].split('_per_issue')[0]}")
sass = list(csv.reader(open(sys.argv[2])))
header, lines = sass[1], sass[2:]
source, executed = header.index('Source'), header.index('Instructions Executed')
mix = collections.Counter()
for line in lines:
    if len(line) > executed and line[source].strip():
        words = line[source].split()
        mix[(words[1] if words[0].startswith('@') else words[0]).split('.')[0]] += int(line[executed] or 0)
total = sum(mix.values())
print(f"warp instructions executed: {total}")
for op, n in mix.most_common(12):
    print(f"  {op:8s} {n:10d} {100 * n / total:5.1f}%")
