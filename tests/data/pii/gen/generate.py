#!/usr/bin/env python3
"""Generate privgate's labeled PII evaluation set (tests/data/pii/*.jsonl).

    python3 tests/data/pii/gen/generate.py            # write dev.jsonl, holdout.jsonl, STATS.md
    python3 tests/data/pii/gen/generate.py --check    # regenerate in memory, compare with the files
    python3 tests/data/pii/gen/generate.py --sample 100 [--split dev] [--seed 7]   # print lines to read

Deterministic: fixed seeds, no set iteration, no clock. Needs Python >= 3.8
and `phonenumbers` == PHONENUMBERS_VERSION (Google libphonenumber's Python
port; the numbering plans it carries decide which numbers are valid).
See ../README.md for the format, the label rules and the scoring rules.
"""

import argparse
import collections
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the data directory free of __pycache__

import phonenumbers  # noqa: E402

import encode as E  # noqa: E402
import facts as F  # noqa: E402
import oracle as O  # noqa: E402
import templates as TP  # noqa: E402
from line import Line  # noqa: E402

PHONENUMBERS_VERSION = "9.0.43"
SPLITS = {"dev": (1801, 16000), "holdout": (1802, 5000)}
OUT = os.path.dirname(HERE)

KIND_WEIGHT = {"pii": 0.55, "neg": 0.18, "look": 0.27}
TYPE_WEIGHT = {"email": 0.19, "phone": 0.25, "card": 0.12, "iban": 0.12, "ip": 0.13, "ssn": 0.09, "name": 0.10}
# Strings a redactor might write in place of a value; no labeled value may be
# a substring of them (the "still in the output" test would then lie).
TOKENS = "[email] [phone] [credit_card] [card] [iban] [ip] [ssn] [name] [redacted] [pii] REDACTED"


class Reject(Exception):
    pass


def validate_pii(ptype, plain, attrs):
    if ptype == "email":
        ok = bool(O.EMAIL.fullmatch(plain)) or ("@" in plain and "." in plain.split("@")[1])
    elif ptype == "phone":
        s = "+" + plain if attrs.get("form") == "intl_digits" else plain
        s = s[4:] if s.startswith("tel:") else s
        s = s.replace("(0)", "")
        ok = bool(F.phone_valid_anywhere(s))
    elif ptype == "card":
        d = "".join(c for c in plain if c.isdigit())
        ok = F.luhn_ok(d) and 12 <= len(d) <= 19
    elif ptype == "iban":
        ok = F.iban_valid(plain)
    elif ptype == "ip":
        ok = F.ip_pii_valid(plain)
    elif ptype == "ssn":
        ok = F.ssn_valid(attrs.get("digits", plain))
    elif ptype == "name":
        ok = bool(plain.strip()) and (len(plain) >= 2 or not F.is_latin(plain))
    else:
        ok = False
    if not ok:
        raise AssertionError("invalid %s value %r" % (ptype, plain))


def finish(L, g, lid, split):
    text = L.text()
    if "\n" in text and L.context != "log":
        raise Reject("newline")
    pii, looks = [], []
    masked = []
    pos = 0
    for start, end, value, label in L.labels():
        assert text[start:end] == value
        decoded = label["decoded"]
        enc = E.classify(value, decoded)
        if enc is None:
            raise AssertionError("undecodable %r -> %r" % (value, decoded))
        if text.count(value) != 1:
            raise Reject("value not unique")
        if decoded != value and decoded in text:
            raise Reject("decoded form present")
        if value in TOKENS or decoded in TOKENS:
            raise Reject("value inside a token")
        masked.append(text[pos:start])
        masked.append(" \u00a6 ")
        pos = end
        attrs = {k: v for k, v in label["attrs"].items() if k not in ("digits", "e164")}
        if "pii" in label:
            validate_pii(label["pii"], decoded, label["attrs"])
            item = {"type": label["pii"], "value": value, "encoding": enc}
            if decoded != value:
                item["decoded"] = decoded
            item.update(attrs)
            pii.append(item)
        else:
            # descriptive attributes of look-alikes are left out (size)
            item = {"class": label["look"], "value": value, "encoding": enc}
            if decoded != value:
                item["decoded"] = decoded
            if label.get("cue"):
                item["cue"] = label["cue"]
            item["looks_like"] = O.looks_like(decoded)
            looks.append(item)
    masked.append(text[pos:])
    rest = "".join(masked)
    hits = O.scan_all(rest)
    if hits:
        if os.environ.get("PII_DEBUG"):
            print("UNLABELED", L.template, hits[:3], rest[:300], file=sys.stderr)
        raise Reject("unlabeled %s" % hits[0][0])
    if L.context == "json" or L.template in ("log.json_line",):
        json.loads(text)
    mode = L.mode
    if any(i["encoding"] == "percent2" for i in pii + looks):
        mode = "percent2"  # a URL nested in a URL: its values are escaped twice
    rec = {"id": "%s-%05d" % (split, lid), "template": L.template, "context": L.context,
           "encoding": mode, "text": text, "pii": pii, "lookalikes": looks}
    if split == "holdout":
        rec["novel"] = g.novel
    return rec


def build_split(split):
    seed, n = SPLITS[split]
    g = TP.G(split, seed)
    r = g.rng
    if split == "dev":
        tmpl = [t for t in TP.REGISTRY if not t["holdout"]]
    else:
        tmpl = list(TP.REGISTRY)
    by_kind = {k: [t for t in tmpl if t["kind"] == k] for k in KIND_WEIGHT}
    seen = set()
    out = []
    rejects = collections.Counter()
    kinds = list(KIND_WEIGHT)
    types = list(TYPE_WEIGHT)
    while len(out) < n:
        kind = r.choices(kinds, [KIND_WEIGHT[k] for k in kinds])[0]
        ptype = None
        cands = by_kind[kind]
        if kind == "pii":
            ptype = r.choices(types, [TYPE_WEIGHT[t] for t in types])[0]
            cands = [t for t in cands if ptype in t["types"]]
        # held-out templates get more weight in the holdout split
        w = [t["weight"] * (3.0 if split == "holdout" and t["holdout"] else 1.0) for t in cands]
        t = r.choices(cands, w)[0]
        mode = g.mode(t["modes"])
        style = r.choices(E.JSON_STYLES, [1, 1, 3, 4])[0] if mode == "json" else None
        L = Line(t["context"], mode, t["id"], style)
        g.new_line(t["holdout"])
        try:
            t["fn"](g, L, ptype)
            rec = finish(L, g, len(out), split)
        except Reject as e:
            rejects[(t["id"], str(e))] += 1
            continue
        if kind == "pii" and not rec["pii"]:
            raise AssertionError(t["id"] + " made no PII")
        if kind == "look" and (rec["pii"] or not rec["lookalikes"]):
            raise AssertionError(t["id"] + " look line without look-alikes")
        if kind == "neg" and (rec["pii"] or rec["lookalikes"]):
            raise AssertionError(t["id"] + " neg line with labels")
        if rec["text"] in seen:
            rejects[(t["id"], "duplicate")] += 1
            continue
        seen.add(rec["text"])
        out.append(rec)
    return out, rejects


def dumps(rec):
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":"))


def stats(recs):
    c = collections.defaultdict(collections.Counter)
    for rec in recs:
        c["lines by context"][rec["context"]] += 1
        c["lines by encoding"][rec["encoding"]] += 1
        kind = "pii" if rec["pii"] else ("lookalike-only" if rec["lookalikes"] else "clean")
        c["lines by kind"][kind] += 1
        for p in rec["pii"]:
            c["pii by type"][p["type"]] += 1
            c["pii by value encoding"][p["encoding"]] += 1
            c["pii type x context"][p["type"] + " / " + rec["context"]] += 1
            c["pii type x form"][p["type"] + " / " + str(p.get("form"))] += 1
            if p["type"] == "phone":
                c["phone by region"][p["region"]] += 1
            if p["type"] == "iban":
                c["iban by country"][p["region"]] += 1
            if p["type"] == "card":
                c["card by network"][p["network"]] += 1
            if p["type"] == "name":
                c["name by culture"][p["culture"]] += 1
        for lk in rec["lookalikes"]:
            c["lookalikes by class"][lk["class"]] += 1
            c["lookalikes by looks_like"][",".join(lk["looks_like"]) or "-"] += 1
        c["lines by template"][rec["template"]] += 1
        if "novel" in rec:
            c["holdout lines using a held-out element"][str(rec["novel"])] += 1
    return c


def write_stats(all_stats, path):
    lines = ["# Counts (generated by gen/generate.py; do not edit)", ""]
    for split, st in all_stats.items():
        lines.append("## %s" % split)
        lines.append("")
        for title, cnt in st.items():
            tot = sum(cnt.values())
            lines.append("### %s (%d)" % (title, tot))
            lines.append("")
            lines.append("| key | count |")
            lines.append("|---|---|")
            for k, v in sorted(cnt.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append("| %s | %d |" % (k, v))
            lines.append("")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if phonenumbers.__version__ != PHONENUMBERS_VERSION:
        sys.exit("phonenumbers %s is required (found %s): pip install phonenumbers==%s"
                 % (PHONENUMBERS_VERSION, phonenumbers.__version__, PHONENUMBERS_VERSION))
    if args.sample:
        path = os.path.join(OUT, args.split + ".jsonl")
        recs = [json.loads(x) for x in open(path, encoding="utf-8")]
        for rec in random.Random(args.seed).sample(recs, args.sample):
            print(rec["id"], rec["template"], rec["encoding"])
            print("   ", rec["text"])
            for p in rec["pii"]:
                print("    PII  %-6s %s   (%s%s)" % (p["type"], p["value"], p["encoding"],
                                                  ", decoded " + p["decoded"] if "decoded" in p else ""))
            for lk in rec["lookalikes"]:
                print("    LOOK %-15s %s   (cue %s, looks like %s)" % (lk["class"], lk["value"], lk.get("cue"), lk["looks_like"]))
        return
    all_stats = {}
    for split in SPLITS:
        recs, rejects = build_split(split)
        text = "".join(dumps(r) + "\n" for r in recs)
        path = os.path.join(OUT, split + ".jsonl")
        if args.check:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    sys.exit("%s differs from what the generator makes" % path)
            print("%s: %d lines, identical" % (split, len(recs)))
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("%s: %d lines, %d rejected candidates" % (split, len(recs), sum(rejects.values())), file=sys.stderr)
            for (tid, why), k in sorted(rejects.items(), key=lambda kv: -kv[1])[:15]:
                print("   reject %-28s %-28s %d" % (tid, why, k), file=sys.stderr)
        all_stats[split] = stats(recs)
    if not args.check:
        write_stats(all_stats, os.path.join(OUT, "STATS.md"))


if __name__ == "__main__":
    main()
