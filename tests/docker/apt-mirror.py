#!/usr/bin/env python3
"""Prints the Debian mirror apt already uses for bookworm's main (the URI debootstrap should fetch from).

Reads /etc/apt/sources.list and /etc/apt/sources.list.d/*.list (one-line format) and *.sources (deb822),
skips disabled entries, deb-src and other suites; no host is hard-coded. Exits 1 when none is found.
"""
import glob
import re
import sys

SUITE = sys.argv[1] if len(sys.argv) > 1 else "bookworm"


def one_line(path):
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.split("#", 1)[0].strip()
        line = re.sub(r"\[[^\]]*\]", " ", line)  # [signed-by=... arch=...]
        words = line.split()
        if len(words) >= 4 and words[0] == "deb" and words[2] == SUITE and "main" in words[3:]:
            yield words[1]


def deb822(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    for stanza in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in fields.get("types", "").split():
            continue
        if SUITE in fields.get("suites", "").split() and "main" in fields.get("components", "").split():
            yield from fields.get("uris", "").split()


paths = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*"))
for path in paths:
    try:
        found = deb822(path) if path.endswith(".sources") else one_line(path) if path.endswith(".list") else ()
        for uri in found:
            print(uri)
            sys.exit(0)
    except FileNotFoundError:
        pass
sys.exit(1)
