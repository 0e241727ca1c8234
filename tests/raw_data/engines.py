#!/usr/bin/env python3
"""Runs a `flagstone sql` query on real engines, against exposure and event files loaded as
the tables of docs/raw-data.md ("In the warehouse"), and prints the result as the summary CSV.

    engines.py duckdb|postgres --query Q.sql --exposures F.jsonl --events F.jsonl
        --exposures-table raw.exposures --events-table raw.events [--property NAME...]
    engines.py duckdb --transpile-from DIALECT ...   # the query of DIALECT, as sqlglot
                                                     # transpiles it, in DuckDB
    engines.py parse DIALECT Q.sql     # sqlglot parses the query in DIALECT: its string
                                       # literals and identifiers, as JSON

Lines are read as flagstone reads them: a line that is not a JSON object with the fields the
summary reads is malformed and left out; a property that is not a JSON number is NULL.
PostgreSQL runs as a throwaway cluster on loopback, as an unprivileged user when run as root.
"""

import argparse
import csv
import datetime
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

EXPOSURE_COLUMNS = [
    ("time", "TIMESTAMPTZ"),
    ("flag", "TEXT"),
    ("environment", "TEXT"),
    ("variant", "TEXT"),
    ("reason", "TEXT"),
    ("rule", "TEXT"),
    ("bundle", "TEXT"),
    ("experiment", "TEXT"),
    ("unit", "TEXT"),
    ("targeting_key", "TEXT"),
    ("session", "TEXT"),
]
# The sessions' time zone: not UTC, since the query must not depend on it.
SESSION_ZONE = "Asia/Kolkata"
REQUIRED = {"time", "flag", "environment", "variant", "reason", "unit"}
REASONS = {"disabled", "rule", "fallthrough", "prerequisite_failed", "error", "excluded"}


def utc(text):
    """An RFC 3339 time with an offset, to the millisecond, as UTC text both engines read."""
    if not isinstance(text, str) or "T" not in text.upper():
        raise ValueError(text)
    at = datetime.datetime.fromisoformat(text.replace("z", "Z"))
    if at.tzinfo is None:
        raise ValueError(text)
    at = at.astimezone(datetime.timezone.utc)
    return at.strftime("%Y-%m-%d %H:%M:%S.") + "%03d+00" % (at.microsecond // 1000)


def lines(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


def exposure_rows(path):
    for e in lines(path):
        try:
            if not all(isinstance(e.get(k), str) for k in REQUIRED) or e["reason"] not in REASONS:
                continue
            row = [utc(e["time"])]
        except ValueError:
            continue
        row += [e.get(name) for name, _ in EXPOSURE_COLUMNS[1:]]
        yield row


def event_rows(path, properties):
    for e in lines(path):
        try:
            if not all(isinstance(e.get(k), str) for k in ("time", "unit", "event")):
                continue
            row = [utc(e["time"]), e["unit"], e["event"]]
        except ValueError:
            continue
        props = e.get("properties") or {}
        for name in properties:
            value = props.get(name)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            row.append(repr(float(value)) if number else None)
        yield row


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        for row in rows:
            writer.writerow(["\\N" if v is None else v for v in row])


def tables(args, work):
    """The two tables: (name, columns, CSV file)."""
    exposures = os.path.join(work, "exposures.csv")
    events = os.path.join(work, "events.csv")
    write_csv(exposures, exposure_rows(args.exposures))
    write_csv(events, event_rows(args.events, args.property))
    event_columns = [("time", "TIMESTAMPTZ"), ("unit", "TEXT"), ("event", "TEXT")]
    event_columns += [(p, "DOUBLE PRECISION") for p in args.property]
    return [
        (args.exposures_table, EXPOSURE_COLUMNS, exposures),
        (args.events_table, event_columns, events),
    ]


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def table_name(dotted):
    return ".".join(quote(part) for part in dotted.split("."))


def create(name, columns):
    cols = ", ".join(f"{quote(c)} {t}" for c, t in columns)
    return f"CREATE TABLE {table_name(name)} ({cols})"


def schemas(loaded):
    return sorted({name.rsplit(".", 1)[0] for name, _, _ in loaded if "." in name})


def number(value):
    if isinstance(value, float):
        return repr(value)
    return str(value)


def print_csv(header, rows):
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row[0]] + [number(v) for v in row[1:]])


def run_duckdb(args, work):
    try:
        import duckdb
    except ImportError:
        sys.exit("the duckdb Python package is missing: python3 -m pip install 'duckdb==2.0.0'")
    con = duckdb.connect(os.path.join(work, "db.duckdb"))
    con.execute(f"SET TimeZone = '{SESSION_ZONE}'")
    loaded = tables(args, work)
    for schema in schemas(loaded):
        con.execute(f"CREATE SCHEMA {table_name(schema)}")
    for name, columns, path in loaded:
        con.execute(create(name, columns))
        con.execute(
            f"COPY {table_name(name)} FROM '{path}' (FORMAT csv, AUTO_DETECT false, HEADER false, "
            "DELIM ',', QUOTE '\"', ESCAPE '\"', NULLSTR '\\N')"
        )
    with open(args.query, encoding="utf-8") as f:
        text = f.read()
    if args.transpile_from:
        text = transpiled(text, args.transpile_from)
    result = con.execute(text)
    header = [d[0] for d in result.description]
    print_csv(header, result.fetchall())


def postgres_bin():
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(found)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        sys.exit("PostgreSQL is missing: apt-get install postgresql (.ci/run does)")
    return os.path.dirname(candidates[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_postgres(args, work):
    bindir = postgres_bin()
    psql = shutil.which("psql") or os.path.join(bindir, "psql")
    # PostgreSQL refuses to run as root: the server runs as nobody, in its own directory.
    as_user = []
    if os.geteuid() == 0:
        as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    data = os.path.join(work, "pg")
    os.mkdir(data, 0o700)
    if as_user:
        shutil.chown(work, "nobody", "nogroup")
        shutil.chown(data, "nobody", "nogroup")
    user = "nobody" if as_user else None
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    subprocess.run(
        as_user
        + [os.path.join(bindir, "initdb"), "-D", data, "-A", "trust", "-E", "UTF8",
           "--locale=C.UTF-8" if os.path.exists("/usr/lib/locale/C.utf8") else "--no-locale"],
        **quiet,
    )
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off"
    log = os.path.join(data, "log")
    subprocess.run(
        as_user + [os.path.join(bindir, "pg_ctl"), "-D", data, "-l", log, "-w", "-t", "60",
                   "-o", options, "start"],
        **quiet,
    )
    try:
        connect = ["-h", "127.0.0.1", "-p", str(port), "-d", "postgres", "-X", "-q",
                   "-v", "ON_ERROR_STOP=1"]
        if user:
            connect += ["-U", user]
        script = [f"SET TimeZone = '{SESSION_ZONE}';"]
        loaded = tables(args, work)
        for schema in schemas(loaded):
            script.append(f"CREATE SCHEMA {table_name(schema)};")
        for name, columns, path in loaded:
            script.append(create(name, columns) + ";")
            script.append(
                f"\\copy {table_name(name)} FROM '{path}' WITH (FORMAT csv, NULL '\\N')"
            )
        setup = os.path.join(work, "setup.sql")
        with open(setup, "w", encoding="utf-8") as f:
            f.write("\n".join(script) + "\n")
        subprocess.run([psql] + connect + ["-f", setup], **quiet)
        # The query printed as CSV (floats in their shortest round-tripping form,
        # PostgreSQL's default since version 12).
        query = os.path.join(work, "query.sql")
        with open(args.query, encoding="utf-8") as f:
            text = f.read()
        with open(query, "w", encoding="utf-8") as f:
            f.write(f"SET TimeZone = '{SESSION_ZONE}';\n" + text.rstrip().rstrip(";") + ";\n")
        result = subprocess.run(
            [psql] + connect + ["--csv", "-f", query],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            sys.exit(result.stderr)
        sys.stdout.write(result.stdout)
    finally:
        subprocess.run(
            as_user + [os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )


def import_sqlglot():
    try:
        import sqlglot
    except ImportError:
        sys.exit("the sqlglot Python package is missing: python3 -m pip install 'sqlglot==30.30.0'")
    return sqlglot


def transpiled(text, dialect):
    """A query of another dialect, as sqlglot writes it for DuckDB."""
    (text,) = import_sqlglot().transpile(text, read=dialect, write="duckdb")
    return text


def parse(dialect, path):
    sqlglot = import_sqlglot()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    if len(statements) != 1 or statements[0].key != "select":
        sys.exit(f"not one SELECT: {[s.key for s in statements]}")
    # What the parser read each string literal and identifier as, unescaped and unquoted.
    tree = statements[0]
    strings = {l.this for l in tree.find_all(sqlglot.exp.Literal) if l.is_string}
    # PostgreSQL's escape strings (E'...'), which sqlglot reads as byte strings.
    strings |= {b.this for b in tree.find_all(sqlglot.exp.ByteString)}
    strings = sorted(strings)
    identifiers = sorted({i.this for i in tree.find_all(sqlglot.exp.Identifier)})
    print(json.dumps({"strings": strings, "identifiers": identifiers}))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "parse":
        parse(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("engine", choices=["duckdb", "postgres"])
    parser.add_argument("--query", required=True)
    parser.add_argument("--exposures", required=True)
    parser.add_argument("--events", required=True)
    parser.add_argument("--exposures-table", required=True)
    parser.add_argument("--events-table", required=True)
    parser.add_argument("--property", action="append", default=[])
    parser.add_argument("--transpile-from", metavar="DIALECT",
                        help="run a query of DIALECT in DuckDB as sqlglot transpiles it")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="flagstone-raw-data-")
    try:
        if args.engine == "duckdb":
            run_duckdb(args, work)
        else:
            run_postgres(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
