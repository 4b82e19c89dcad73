#!/usr/bin/env python3
"""Runs a command and records its whole-life resource use.

Usage: measure.py RESULT_JSON PID_FILE -- COMMAND [ARGS...]

Starts COMMAND as a child, writes its pid to PID_FILE (so the caller can signal
or profile the command itself, not this wrapper), forwards SIGTERM, SIGINT and
SIGHUP to it, and reaps it with wait4(2). RESULT_JSON then holds the child's
rusage, from its start to its exit, all threads included:

  {"utime_s": .., "stime_s": .., "cpu_s": .., "maxrss_kib": .., "wall_s": ..,
   "exit_code": .., "signal": ..}

`maxrss_kib` is ru_maxrss: the child's peak resident set size (the same
high-water mark as VmHWM in /proc/PID/status, taken at exit). The wrapper exits
with the child's exit code (128 + signal when a signal ended it).
"""

import json
import os
import signal
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit("usage: measure.py RESULT_JSON PID_FILE -- COMMAND [ARGS...]")
    result_path, pid_path, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]
    start = time.monotonic()
    child = subprocess.Popen(cmd)
    with open(pid_path + ".tmp", "w") as f:
        f.write(f"{child.pid}\n")
    os.replace(pid_path + ".tmp", pid_path)

    def forward(signum, _frame):
        try:
            os.kill(child.pid, signum)
        except ProcessLookupError:
            pass

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, forward)

    while True:
        try:
            _, status, ru = os.wait4(child.pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            sys.exit("measure.py: child vanished")
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    result = {
        "utime_s": round(ru.ru_utime, 3),
        "stime_s": round(ru.ru_stime, 3),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 3),
        "maxrss_kib": ru.ru_maxrss,
        "wall_s": round(wall, 3),
        "exit_code": code if code >= 0 else None,
        "signal": -code if code < 0 else None,
    }
    with open(result_path + ".tmp", "w") as f:
        json.dump(result, f)
        f.write("\n")
    os.replace(result_path + ".tmp", result_path)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
