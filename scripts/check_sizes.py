#!/usr/bin/env python3
"""Size limits for the project's C++ (docs/testing.md, "Size limits").

Fails (exit 1), naming each offender, if a .cc/.h file is over MAX_FILE
lines or a function (or lambda) body is over MAX_FUNCTION lines. Files are
the repository's (tracked and new, not ignored), never build*/ trees. Data
tables opt out with a "check_sizes: data table" comment: in a file's first
five lines for the file limit, in the three lines above a function (a table
built by one function: the command table, the schema migrations) for the
function limit.

Functions are found by a heuristic, not a parser: comments, string and
character literals (raw strings too) and preprocessor lines are blanked,
then every '{' whose preceding text (back to the last ';', '{' or '}') ends
in ')' plus qualifiers (const, noexcept, override, -> type, an initializer
list) and does not start with a control keyword opens a function body. Its
length is counted from the first line of the signature to the matching '}'.
"""
import os
import re
import subprocess
import sys

MAX_FILE = 800
MAX_FUNCTION = 120

CONTROL = re.compile(r"^(if|else|for|while|switch|catch|do|return|case|default)\b")
HEAD_END = re.compile(
    r"\)\s*(?:const|noexcept|override|final|mutable|&&|&|\s)*(?:->\s*[\w:<>,\s*&]+)?$")


def blank(text):
    """Comments, literals and preprocessor lines -> spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and c == "#" or (at_line_start and text[i:].lstrip(" \t").startswith("#")
                                          and c in " \t"):
            # a preprocessor line, with its continuations
            while i < n:
                if text[i] == "\n" and (i == 0 or text[i - 1] != "\\"):
                    break
                out.append("\n" if text[i] == "\n" else " ")
                i += 1
            continue
        if c == "\n":
            out.append(c)
            at_line_start = True
            i += 1
            continue
        if c not in " \t":
            at_line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        m = re.match(r'(?:u8|[uUL])?R"([^(\s]{0,16})\(', text[i:i + 24])
        if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find(")" + m.group(1) + '"', i + m.end())
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # digit separator 1'000
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        out.append(c)
        i += 1
    return "".join(out)


def functions(code):
    """(first line, last line) of every function body, 1-based."""
    line_of = []
    line = 1
    for ch in code:
        line_of.append(line)
        if ch == "\n":
            line += 1
    stack = []  # (is_function, start line)
    found = []
    last_stop = -1  # index of the last ';', '{' or '}'
    for i, ch in enumerate(code):
        if ch == "{":
            head = code[last_stop + 1:i]
            h = head.strip()
            is_fn = bool(h) and bool(HEAD_END.search(h)) and not CONTROL.match(h)
            start = line_of[i]
            if is_fn:
                k = last_stop + 1 + (len(head) - len(head.lstrip()))
                start = line_of[min(k, i)]
            stack.append((is_fn, start))
            last_stop = i
        elif ch == "}":
            if stack:
                is_fn, start = stack.pop()
                if is_fn:
                    found.append((start, line_of[i]))
            last_stop = i
        elif ch == ";":
            last_stop = i
    return found


def project_files(root):
    out = subprocess.run(
        ["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True, text=True).stdout.split("\n")
    for path in sorted(set(out)):
        if not path.endswith((".cc", ".h")):
            continue
        if path.split("/")[0].startswith("build"):
            continue
        if os.path.exists(os.path.join(root, path)):
            yield path


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    bad = []
    for path in project_files(root):
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            text = f.read()
        lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        data_table = "check_sizes: data table" in "\n".join(text.split("\n")[:5])
        if lines > MAX_FILE and not data_table:
            bad.append(f"{path}: {lines} lines (limit {MAX_FILE}): split it by role")
        text_lines = text.split("\n")
        for start, end in functions(blank(text)):
            before = "\n".join(text_lines[max(0, start - 4):start - 1])
            if end - start + 1 > MAX_FUNCTION and "check_sizes: data table" not in before:
                sig = text.split("\n")[start - 1].strip()
                bad.append(f"{path}:{start}: function of {end - start + 1} lines "
                           f"(limit {MAX_FUNCTION}): {sig[:80]}")
    for b in bad:
        print(b)
    if bad:
        print(f"check_sizes: {len(bad)} offender(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
