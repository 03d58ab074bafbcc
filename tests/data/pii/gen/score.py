#!/usr/bin/env python3
"""Reference implementation of the scoring rules in ../README.md.

    python3 tests/data/pii/gen/score.py dev OUTPUTS.jsonl
    python3 tests/data/pii/gen/score.py dev --identity     # a redactor that changes nothing

OUTPUTS.jsonl has one JSON object per line, {"id": "<corpus id>", "output":
"<what the redactor made of text>"}, for every line of the split (any
order). A Rust scorer must give the same numbers; this one exists so the
rules have an executable definition.
"""

import collections
import json
import os
import sys

DATA = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def survives(item, out):
    return item["value"] in out or item.get("decoded", item["value"]) in out


def score(recs, outputs):
    leak = collections.defaultdict(lambda: [0, 0])      # key -> [leaked, total]
    changed = collections.defaultdict(lambda: [0, 0])   # key -> [changed, total]
    destroyed = collections.defaultdict(lambda: [0, 0])
    for rec in recs:
        out = outputs[rec["id"]]
        for p in rec["pii"]:
            hit = survives(p, out)
            for key in ("type " + p["type"], "context " + rec["context"] + " / " + p["type"],
                        "encoding " + p["encoding"] + " / " + p["type"], "all"):
                leak[key][0] += hit
                leak[key][1] += 1
        if not rec["pii"]:
            ch = out != rec["text"]
            for key in ("all", "context " + rec["context"], "kind " + ("lookalike" if rec["lookalikes"] else "clean")):
                changed[key][0] += ch
                changed[key][1] += 1
        for lk in rec["lookalikes"]:
            gone = not survives(lk, out)
            hard = "hard (looks like %s)" % "+".join(lk["looks_like"]) if lk["looks_like"] else "easy (looks like no PII)"
            for key in ("all", "class " + lk["class"], hard):
                destroyed[key][0] += gone
                destroyed[key][1] += 1
    return leak, changed, destroyed


def table(title, d):
    print("\n%s" % title)
    for key in sorted(d, key=lambda k: (k != "all", k)):
        a, n = d[key]
        print("  %-40s %6d / %-6d %6.2f%%" % (key, a, n, 100.0 * a / n if n else 0))


def main():
    split = sys.argv[1]
    recs = [json.loads(x) for x in open(os.path.join(DATA, split + ".jsonl"), encoding="utf-8")]
    if sys.argv[2] == "--identity":
        outputs = {r["id"]: r["text"] for r in recs}
    else:
        outputs = {}
        for x in open(sys.argv[2], encoding="utf-8"):
            o = json.loads(x)
            outputs[o["id"]] = o["output"]
        missing = [r["id"] for r in recs if r["id"] not in outputs]
        if missing:
            sys.exit("%d lines have no output, e.g. %s" % (len(missing), missing[0]))
    leak, changed, destroyed = score(recs, outputs)
    table("PII values leaked (full value or its decoded form still in the output)", leak)
    table("PII-free lines changed", changed)
    table("look-alike tokens destroyed", destroyed)


if __name__ == "__main__":
    main()
