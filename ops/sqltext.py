"""Reading SQL the way SQLite and its sqlite3 CLI read it: tokens, statements, CLI lines.

A migration file is run by the sqlite3 CLI, so it is read here with the CLI's own rules
(``process_input`` in SQLite's shell.c): a line is a dot-command or a ``#`` comment only when it
starts in column 0 and no statement is buffered; otherwise lines accumulate until
``sqlite3_complete`` says the buffer ends a statement; a line that is just ``go`` or ``/`` ends
a statement that would be complete with a ``;``. Inside a chunk, statements are split with
SQLite's tokenizer rules (``--`` and ``/* */`` comments, ``'…'`` strings, ``"…"``, `````…`````
and ``[…]`` identifiers, trigger bodies kept whole by ``sqlite3_complete``).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field

_SPACE = " \t\n\f\r"
_OPERATORS = ("->>", "||", "<<", ">>", "<=", ">=", "==", "!=", "<>", "->")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """SQLite folds case for ASCII letters only: so does every name comparison here."""
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class Token:
    kind: str  # space comment string ident word number var semi lparen rparen dot comma op
    text: str
    start: int
    line: int

    @property
    def name(self) -> str:
        """The identifier or string a token spells, unquoted, case-folded like SQLite does."""
        if self.kind == "ident":
            if self.text.startswith("["):
                return ascii_lower(self.text[1:-1] if self.text.endswith("]") else self.text[1:])
            q = self.text[0]
            inner = self.text[1:-1] if len(self.text) > 1 and self.text.endswith(q) else self.text[1:]
            return ascii_lower(inner.replace(q + q, q))
        if self.kind == "string":
            inner = self.text[1:-1] if len(self.text) > 1 and self.text.endswith("'") else self.text[1:]
            return ascii_lower(inner.replace("''", "'"))
        return ascii_lower(self.text)

    @property
    def spelled(self) -> str:
        """The name as written (unquoted, case kept): for reports and generated SQL."""
        if self.kind in ("ident", "string") and len(self.text) > 1:
            q = self.text[0]
            close = "]" if q == "[" else q
            inner = self.text[1:-1] if self.text.endswith(close) else self.text[1:]
            return inner if q == "[" else inner.replace(q + q, q)
        return self.text

    @property
    def significant(self) -> bool:
        return self.kind not in ("space", "comment")


_ID = "\\w$\x80-\U0010ffff"
_TOKEN_RE = re.compile(
    r"(?P<space>[ \t\n\f\r]+)"
    r"|(?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))"
    r"|(?P<string>[xX]?'[^']*(?:''[^']*)*(?:'|\Z))"
    r"|(?P<ident>\"[^\"]*(?:\"\"[^\"]*)*(?:\"|\Z)|`[^`]*(?:``[^`]*)*(?:`|\Z)|\[[^\]]*(?:\]|\Z))"
    rf"|(?P<number>(?:\d|\.\d)(?:[{_ID}.]|(?<=[eE])[+-])*)"
    rf"|(?P<var>\?\d*|[:@$][{_ID}]+(?:::[{_ID}]+)*)"
    rf"|(?P<word>[{_ID}]+)"
    r"|(?P<semi>;)|(?P<lparen>\()|(?P<rparen>\))|(?P<dot>\.)|(?P<comma>,)"
    r"|(?P<op>->>|\|\||<<|>>|<=|>=|==|!=|<>|->|.)",
    re.DOTALL,
)


def tokenize(sql: str, *, first_line: int = 1) -> list[Token]:
    """SQLite's tokenizer rules, enough to find statements, keywords, names and calls."""
    out: list[Token] = []
    line = first_line
    for match in _TOKEN_RE.finditer(sql):
        kind = match.lastgroup or "op"
        text = match.group()
        out.append(Token(kind, text, match.start(), line))
        if kind in ("space", "comment", "string", "ident"):
            line += text.count("\n")
    return out


@dataclass(frozen=True)
class Statement:
    line: int  # the line of its first token in the file
    text: str  # from its first significant token through its ';'
    tokens: tuple[Token, ...] = field(repr=False)  # significant tokens only

    @property
    def words(self) -> list[str]:
        return [t.name for t in self.tokens if t.kind == "word"]

    @property
    def last_line(self) -> int:
        return self.line + self.text.count("\n")


@dataclass(frozen=True)
class CliLine:
    """A line the sqlite3 CLI handles itself: a dot-command or a ``#`` comment."""

    line: int
    text: str

    @property
    def is_dot(self) -> bool:
        return self.text.startswith(".")

    @property
    def command(self) -> str:
        return self.text[1:].split(None, 1)[0].lower() if self.is_dot and len(self.text) > 1 else ""


@dataclass(frozen=True)
class Script:
    statements: tuple[Statement, ...]
    cli_lines: tuple[CliLine, ...]
    terminators: tuple[tuple[int, str], ...]  # (line, text) of `go` / `/` lines that ended a statement
    unfinished: Statement | None  # text after the last complete statement that is not only comments


def _all_whitespace(line: str) -> bool:
    """shell.c's _all_whitespace(): only blanks and complete comments on the line."""
    stripped = line.lstrip()
    if stripped and stripped[0] not in "-/":
        return False
    return all(t.kind in ("space",) or (t.kind == "comment" and (not t.text.startswith("/*") or t.text.endswith("*/")
                                                                    and len(t.text) >= 4))
               for t in tokenize(line))


def _is_terminator(line: str, extra: tuple[str, ...]) -> bool:
    stripped = line.strip()
    return stripped.lower() in ("go", "/") or any(stripped == e for e in extra)


def split_statements(chunk: str, first_line: int) -> tuple[list[Statement], Statement | None]:
    """Complete statements in ``chunk``, and what is left after the last one (if any)."""
    toks = tokenize(chunk, first_line=first_line)
    result: list[Statement] = []
    begin = 0  # index of the first token of the current statement
    for k, tok in enumerate(toks):
        if tok.kind != "semi":
            continue
        text = chunk[toks[begin].start: tok.start + 1]
        if sqlite3.complete_statement(text):
            sig = tuple(t for t in toks[begin:k + 1] if t.significant)
            if len(sig) > 1:  # a lone ';' is an empty statement SQLite skips
                first = sig[0]
                result.append(Statement(first.line, chunk[first.start: tok.start + 1], sig))
            begin = k + 1
    rest = tuple(t for t in toks[begin:] if t.significant)
    leftover = Statement(rest[0].line, chunk[rest[0].start:].rstrip(), rest) if rest else None
    return result, leftover


def read_script(text: str, *, breakpoints: tuple[str, ...] = ()) -> Script:
    """Read ``text`` as ``sqlite3 < file`` would.

    ``breakpoints`` are whole lines (such as drizzle's ``--> statement-breakpoint``) that end a
    statement the way the CLI's ``go`` does: the tool that wrote the file runs each part alone.
    """
    statements: list[Statement] = []
    cli: list[CliLine] = []
    terms: list[tuple[int, str]] = []
    buf: list[str] = []
    buf_line = 0
    for lineno, line in enumerate(text.splitlines(keepends=True), start=1):
        if not buf:
            if _all_whitespace(line):
                continue
            if line[0] in ".#":
                cli.append(CliLine(lineno, line.rstrip("\r\n")))
                continue
            buf_line = lineno
        joined = "".join(buf)
        if buf and _is_terminator(line, breakpoints) and sqlite3.complete_statement(joined + ";"):
            if line.strip() not in breakpoints:
                terms.append((lineno, line.strip()))
            line = ";" + ("\n" if line.endswith("\n") else "")
        buf.append(line)
        if ";" in line and sqlite3.complete_statement(joined + line):
            found, _ = split_statements(joined + line, buf_line)
            statements += found
            buf = []
    unfinished = None
    if buf:
        found, unfinished = split_statements("".join(buf), buf_line)
        statements += found
    return Script(tuple(statements), tuple(cli), tuple(terms), unfinished)


def comments(text: str) -> list[tuple[int, str]]:
    """(line, text) of every ``--`` comment as SQLite sees it (not inside a string or a name)."""
    return [(t.line, t.text[2:]) for t in tokenize(text) if t.kind == "comment" and t.text.startswith("--")]


def without_comments(tokens: tuple[Token, ...] | list[Token]) -> str:
    """Significant tokens joined by single spaces: a statement with its comments gone."""
    return " ".join(t.text for t in tokens if t.significant)


_WS_RE = re.compile(r"\s+")


def squash(text: str) -> str:
    return _WS_RE.sub(" ", text).strip()
