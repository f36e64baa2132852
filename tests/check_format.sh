#!/bin/sh
# The house format (.clang-format, shared CONVENTIONS): every C file of
# the project as Debian's clang-format 14 would write it; a file it would
# change fails the test, with the lines it would change.
#   usage: tests/check_format.sh SOURCE_ROOT
set -eu
cd "$1"
find bench core readers server tests tools -name '*.[ch]' -print0 |
    xargs -0 clang-format --dry-run --Werror
