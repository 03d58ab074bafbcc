#!/usr/bin/env python3
"""Generates the independent PII probe (see README.md): a labeled corpus in
the format of tests/data/pii/ (its README, FORMAT section), from our own
templates and value lists.

  python3 tests/data/pii-probe/generate.py [--seed 4242] [--lines 3000] [--out probe.jsonl]
"""
import argparse
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import encode  # noqa: E402
import templates_neg  # noqa: E402
import templates_pii  # noqa: E402
import values as V  # noqa: E402
from line import dumps  # noqa: E402

PII_SHARE = 0.56
# One in four lines gets its values escaped (percent, form, percent2, json):
# the templates pick an escaping mode themselves; this extra pass turns
# plain text lines into JSON-escaped or form-encoded ones.


def audit(rec):
    """What a context-free reader would still call PII in a line once its
    labels are masked: a list of (what, token). Only a check for us."""
    text = rec["text"]
    for item in rec["pii"] + rec["lookalikes"]:
        text = text.replace(item["value"], " ")
    views = [text]
    for f in (encode.d_pct, encode.d_form):
        try:
            views.append(f(text))
        except Exception:
            pass
    bad = []
    for t in views:
        t = re.sub(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", " ", t)
        t = re.sub(r"\b[0-9a-f]{16,}\b", " ", t)
        for m in re.finditer(r"[\w.+'-]+@[\w-]+(\.[\w-]+)*\.[a-z]{2,}", t):
            if not re.search(r"@\dx\.", m.group()):
                bad.append(("email", m.group()))
        for m in re.finditer(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])", t):
            if all(int(x) <= 255 for x in m.groups()):
                bad.append(("ip", m.group()))
        for m in re.finditer(r"\d(?:[ -]?\d){12,18}", t):
            d = re.sub(r"\D", "", m.group())
            if 13 <= len(d) <= 19 and V.luhn_ok(d) and d[0] in "2345689" and not d.startswith("169") and not d.startswith("170"):
                bad.append(("card", m.group()))
        for m in re.finditer(r"\b\d{3}-\d{2}-\d{4}\b", t):
            bad.append(("ssn", m.group()))
        for m in re.finditer(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b", t):
            if V.iban_valid(m.group()):
                bad.append(("iban", m.group()))
        for m in re.finditer(r"(?<![\w.])\+?\d[\d ./()-]{7,16}\d(?![\w.])", t):
            d = re.sub(r"\D", "", m.group())
            if 9 <= len(d) <= 13 and not re.fullmatch(r"(19|20)\d{6,}|1[67]\d{8,11}", d):
                bad.append(("phone?", m.group()))
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--lines", type=int, default=3000)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe.jsonl"))
    ap.add_argument("--audit", action="store_true", help="print what the audit flags")
    a = ap.parse_args()
    r = random.Random(a.seed)
    pos = templates_pii.TEMPLATES
    neg = templates_neg.TEMPLATES
    out, flagged, errors = [], 0, 0
    while len(out) < a.lines:
        group = pos if r.random() < PII_SHARE else neg
        fn = r.choices([t for t, _ in group], [w for _, w in group])[0]
        try:
            rec = fn(r)
        except ValueError:
            errors += 1
            continue
        bad = audit(rec)
        if bad and not rec["pii"]:
            flagged += 1
            if a.audit:
                print("FLAG", rec["template"], bad, rec["text"][:200], file=sys.stderr)
            continue
        rec = {"id": "probe-%05d" % len(out), **{k: rec[k] for k in ("template", "context", "encoding", "text", "pii", "lookalikes")}}
        out.append(rec)
    with open(a.out, "w", encoding="utf-8") as f:
        for rec in out:
            f.write(dumps(rec) + "\n")
    print("wrote %d lines to %s (%d retried, %d PII-free lines dropped by the audit)" % (len(out), a.out, errors, flagged),
          file=sys.stderr)


if __name__ == "__main__":
    main()
