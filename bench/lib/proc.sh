# shellcheck shell=bash
# Small measuring helpers shared by the benchmark scripts (source this file).
# `pause` records its sleep in SLEEP_PID, so the caller's trap can kill it.

now() { date +%s.%N; }
# A sleep that a signal interrupts at once (bash runs traps only between commands).
pause() { sleep "$1" & SLEEP_PID=$!; wait "$SLEEP_PID"; SLEEP_PID=""; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
# utime+stime of a process, in clock ticks (fields 14 and 15 after the comm).
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# The same, 0 once the process has gone.
cpu_ticks_or_0() { cpu_ticks "$1" 2>/dev/null || echo 0; }
# Busy and total jiffies of the whole machine.
sys_jiffies() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
