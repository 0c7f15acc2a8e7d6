"""Parses Prometheus text exposition with the reference parser
(Debian's python3-prometheus-client) and fails on anything it refuses or
on a family that is split, or lacks HELP or TYPE. Reads the text on
standard input; prints one line per family; exit 0 when all is well.

Run it with /usr/bin/python3: the package is Debian's."""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    errors = []
    # The parser merges what it can; the format itself says each family is
    # one block, with HELP and TYPE before its samples.
    seen, current = set(), None
    helps, types = set(), set()
    for line in text.splitlines():
        if not line:
            continue
        m = re.match(r"# (HELP|TYPE) (\S+)", line)
        if m:
            (helps if m.group(1) == "HELP" else types).add(m.group(2))
            fam = m.group(2)
        elif line.startswith("#"):
            continue
        else:
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            fam = re.sub(r"_(bucket|sum|count|total|created)$", "", name)
            if fam not in types and name in types:
                fam = name
            if fam not in types:
                errors.append(f"{name}: no TYPE line before its samples")
        if fam != current:
            if fam in seen:
                errors.append(f"{fam}: family split into several groups")
            seen.add(fam)
            current = fam
    for t in types - helps:
        errors.append(f"{t}: TYPE without HELP")
    try:
        fams = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's own refusal
        errors.append(f"parser: {e}")
        fams = []
    for f in fams:
        print(f"{f.name} {f.type} {len(f.samples)}")
    for e in errors:
        print("ERROR", e)
    sys.exit(1 if errors or not fams else 0)


if __name__ == "__main__":
    main()
