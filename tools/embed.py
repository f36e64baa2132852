#!/usr/bin/env python3
"""Embeds files into a C source as byte arrays, so arald serves web/ and
applies schema/ without reading paths at run time.

embed.py schema OUT.c FILE...   -> schema_migrations[] {version, sql}
embed.py web OUT.c FILE...      -> web_files[] {path, type, data, len, etag}
"""
import hashlib
import os
import re
import sys

TYPES = {".html": "text/html; charset=utf-8",
         ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8",
         ".ico": "image/x-icon", ".png": "image/png",
         ".svg": "image/svg+xml", ".json": "application/json",
         ".yaml": "application/yaml"}


def c_bytes(data):
    return ",".join(str(b) for b in data) + ",0"


def main():
    kind, out, files = sys.argv[1], sys.argv[2], sorted(sys.argv[3:])
    lines = ['#include "embed.h"', ""]
    rows = []
    for i, path in enumerate(files):
        data = open(path, "rb").read()
        name = os.path.basename(path)
        lines.append(f"static const unsigned char f{i}[] = {{{c_bytes(data)}}};")
        if kind == "schema":
            version = int(re.match(r"(\d+)_", name).group(1))
            rows.append(f"{{{version}, (const char *)f{i}}}")
        else:
            ext = os.path.splitext(name)[1]
            etag = hashlib.sha256(data).hexdigest()[:16]
            url = "/" if name == "index.html" else "/" + name
            rows.append(f'{{"{url}", "{TYPES[ext]}", f{i}, {len(data)}, '
                        f'"\\"{etag}\\""}}')
    if kind == "schema":
        lines.append("const struct migration schema_migrations[] = {")
        lines += ["    " + r + "," for r in rows] + ["};"]
        lines.append(f"const int schema_migration_count = {len(rows)};")
    else:
        lines.append("const struct web_file web_files[] = {")
        lines += ["    " + r + "," for r in rows] + ["};"]
        lines.append(f"const int web_file_count = {len(rows)};")
    open(out, "w").write("\n".join(lines) + "\n")


main()
