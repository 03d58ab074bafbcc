"""Prints the privacy policy the repository's proxy.toml ships, as TOML for
load-tests/run.sh to add to the `privgate-policy` target's config.

  shipped_policy.py PROXY_TOML destination  # require_consent/match lines of
                                            # the shipped destination
  shipped_policy.py PROXY_TOML tables       # its [keys], [consent] and every
                                            # [[rules]] table

Read at run time, so the load test always measures whatever proxy.toml ships.
The values are parsed with tomllib and written back out (the output is checked
to parse to the same values); a relative `file:` reference (the demo HMAC key,
an opt-out registry) is made absolute against proxy.toml's directory, which is
where `privgate run --config proxy.toml` resolves it from.
"""
import json
import os
import sys
import tomllib

POLICY_TABLES = ("keys", "consent", "rules")
DESTINATION_KEYS = ("require_consent", "match")


def absolute_files(value, base):
    if isinstance(value, str):
        if value.startswith("file:") and not os.path.isabs(value[5:]):
            return "file:" + os.path.normpath(os.path.join(base, value[5:]))
        return value
    if isinstance(value, list):
        return [absolute_files(v, base) for v in value]
    if isinstance(value, dict):
        return {k: absolute_files(v, base) for k, v in value.items()}
    return value


def key(k):
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else json.dumps(k)


def inline(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key(k)} = {inline(v)}" for k, v in value.items()) + " }"
    sys.exit(f"shipped_policy.py: cannot write {type(value).__name__} values")


def table(header, values):
    lines = [header]
    lines += [f"{key(k)} = {inline(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def main():
    path, what = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        shipped = tomllib.load(f)
    base = os.path.dirname(os.path.abspath(path))
    if what == "destination":
        dests = [d for d in shipped.get("destinations", []) if "require_consent" in d]
        wanted = {k: dests[0][k] for k in DESTINATION_KEYS if dests and k in dests[0]}
        out = "".join(f"{k} = {inline(v)}\n" for k, v in wanted.items())
    elif what == "tables":
        wanted = {k: absolute_files(shipped[k], base) for k in POLICY_TABLES if k in shipped}
        if not wanted.get("rules"):
            sys.exit(f"shipped_policy.py: {path} ships no [[rules]]")
        parts = []
        for name, values in wanted.items():
            if isinstance(values, list):
                parts += [table(f"[[{name}]]", v) for v in values]
            else:
                parts.append(table(f"[{name}]", values))
        out = "\n".join(parts)
    else:
        sys.exit("usage: shipped_policy.py PROXY_TOML destination|tables")
    if tomllib.loads(out) != wanted:
        sys.exit("shipped_policy.py: the policy did not round-trip")
    sys.stdout.write(out)


main()
