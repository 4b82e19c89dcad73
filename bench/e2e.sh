#!/usr/bin/env bash
# End-to-end comparison: tern, Prometheus in agent mode and vmagent, one after
# another, scrape the same targets (default 100 nginx ports x a 2,000-series
# body, 5 s interval) for the same window and remote-write into a Prometheus
# receiver through a counting proxy. Prints per agent: CPU seconds, peak RSS,
# samples delivered / expected, wire bytes per sample, and tern's ratios.
#
# Goal (from the issue): tern at most half of vmagent's CPU and half of its peak
# RSS, with every sample delivered. This is a measurement: it exits 0 whether or
# not the goals are met (2 on a set-up error). See bench/README.md.
# shellcheck disable=SC2153  # per-run values come from sourced env files
set -euo pipefail

# ---- settings (override through the environment) ---------------------------
AGENTS=${AGENTS:-"tern prometheus-agent vmagent"}
TARGETS=${TARGETS:-100}
SERIES=${SERIES:-2000}            # samples in the body every target serves
WINDOW_S=${WINDOW_S:-60}          # scraping window per agent (from its start)
DRAIN_S=${DRAIN_S:-15}            # after the targets stop: time to send what is queued
STOP_TIMEOUT_S=${STOP_TIMEOUT_S:-60}  # SIGTERM -> exit, then SIGKILL
SCRAPE_INTERVAL_S=${SCRAPE_INTERVAL_S:-5}
SCRAPE_TIMEOUT_S=${SCRAPE_TIMEOUT_S:-4}
BASE_PORT=${BASE_PORT:-18600}     # targets on BASE_PORT..BASE_PORT+TARGETS-1
RECEIVER_PORT=${RECEIVER_PORT:-18590}
PROXY_PORT=${PROXY_PORT:-18591}
AGENT_PORT=${AGENT_PORT:-18592}   # each agent's own HTTP listener (one at a time)
SKIP_BUILD=${SKIP_BUILD:-0}       # 1: use the existing target/release/tern
TERN_BIN=${TERN_BIN:-}            # a prebuilt tern to measure instead (no build)
BENCH_PERF=${BENCH_PERF:-0}       # 1: extra profiled tern run; auto: only if a goal is missed
PERF_DELAY_S=${PERF_DELAY_S:-15}  # profile from this second of the profiled run ...
PERF_S=${PERF_S:-15}              # ... for this long
BENCH_OUT=${BENCH_OUT:-}          # keep configs, logs, counts and profile in this dir

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
# shellcheck source=bench/lib/farm.sh source-path=SCRIPTDIR
source "$BENCH/lib/farm.sh"
# shellcheck source=bench/lib/proc.sh source-path=SCRIPTDIR
source "$BENCH/lib/proc.sh"

# The automatic series every agent adds per scrape (Prometheus' list).
AUTO_SERIES="up scrape_duration_seconds scrape_samples_scraped scrape_samples_post_metric_relabeling scrape_series_added"
N_AUTO=$(echo "$AUTO_SERIES" | wc -w)

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# ---- clean-up: every process this script starts ----------------------------
WORK=""
KEEP_WORK=0
AGENT_PID=""      # the agent itself (child of the measure.py wrapper)
WRAP_PID=""       # measure.py
RECEIVER_PID=""
PROXY_PID=""
PERF_PID=""
SLEEP_PID=""
stop_pid() { # PID [seconds before SIGKILL]
    local pid=$1 grace=${2:-10} i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$SLEEP_PID" ]; then kill "$SLEEP_PID" 2>/dev/null || true; fi
    if [ -n "$PERF_PID" ] && kill -0 "$PERF_PID" 2>/dev/null; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
    fi
    stop_pid "$AGENT_PID" 10
    stop_pid "$WRAP_PID" 2
    stop_pid "$RECEIVER_PID" 10
    stop_pid "$PROXY_PID" 2
    stop_farm || true
    if [ -n "$WORK" ] && [ -z "$BENCH_OUT" ] && [ "$KEEP_WORK" = 0 ]; then
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers ----------------------------------------------------------------
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
wait_http() { # URL SECONDS [PID that must stay alive]
    local url=$1 secs=$2 pid=${3:-} i
    for ((i = 0; i < secs * 10; i++)); do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        curl -fsS --max-time 1 -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# Sum of a metric family's samples in a saved /metrics page (0 when absent).
metric_sum() { # FILE NAME [label filter regex]
    awk -v n="$2" -v f="${3:-}" '
        $1 !~ /^#/ { name = $1; sub(/\{.*/, "", name)
                     if (name == n && (f == "" || $1 ~ f)) s += $NF }
        END { printf "%.0f\n", s }' "$1" 2>/dev/null || echo 0
}
thousands() { echo "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'; }

install_deps() {
    local missing=()
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
    case " $AGENTS " in *" vmagent "*)
        command -v vmagent >/dev/null 2>&1 || missing+=(victoria-metrics) ;;
    esac
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    # Debian's postinst may start the packaged services where an init system runs
    # them; they listen on their default ports, none of which this script uses.
}

# ---- configs ------------------------------------------------------------------
# write_config AGENT FILE REMOTE_WRITE(0|1): the same scrape config for every
# agent; only the external label `agent` differs (vmagent's has no remote_write:
# it takes -remoteWrite.url and rejects the section).
write_config() {
    local agent=$1 file=$2 with_rw=$3 p
    {
        echo "# Generated by bench/e2e.sh for $agent: $TARGETS static targets on 127.0.0.1."
        echo "global:"
        echo "  scrape_interval: ${SCRAPE_INTERVAL_S}s"
        echo "  scrape_timeout: ${SCRAPE_TIMEOUT_S}s"
        echo "  external_labels:"
        echo "    agent: $agent"
        echo "scrape_configs:"
        echo "  - job_name: e2e"
        echo "    scrape_interval: ${SCRAPE_INTERVAL_S}s"
        echo "    scrape_timeout: ${SCRAPE_TIMEOUT_S}s"
        echo "    static_configs:"
        echo "      - targets:"
        for ((p = BASE_PORT; p < BASE_PORT + TARGETS; p++)); do
            echo "          - 127.0.0.1:$p"
        done
        if [ "$with_rw" = 1 ]; then
            echo "remote_write:"
            echo "  - url: http://127.0.0.1:$PROXY_PORT/$agent/api/v1/write"
        fi
    } >"$file"
}

# agent_cmd AGENT DIR: prints the command line (one word per line) to run AGENT.
agent_cmd() {
    local agent=$1 dir=$2
    case "$agent" in
    tern)
        printf '%s\n' "$TERN" run --config "$dir/config.yml" --data-dir "$dir/data" \
            --listen "127.0.0.1:$AGENT_PORT" ;;
    prometheus-agent)
        printf '%s\n' prometheus --enable-feature=agent --config.file="$dir/config.yml" \
            --storage.agent.path="$dir/data" --web.listen-address="127.0.0.1:$AGENT_PORT" ;;
    vmagent)
        # vmagent takes remote write from flags; its -promscrape.config has no remote_write.
        printf '%s\n' vmagent -promscrape.config="$dir/config.yml" \
            -remoteWrite.url="http://127.0.0.1:$PROXY_PORT/vmagent/api/v1/write" \
            -remoteWrite.tmpDataPath="$dir/data" -httpListenAddr="127.0.0.1:$AGENT_PORT" ;;
    *) die "unknown agent $agent (known: tern prometheus-agent vmagent)" ;;
    esac
}
agent_ready_path() { case "$1" in vmagent) echo /health ;; *) echo /-/ready ;; esac; }

# ---- receiver -----------------------------------------------------------------
start_receiver() { # DIR
    local dir=$1
    mkdir -p "$dir/tsdb"
    printf '# bench/e2e.sh receiver: remote-write only, scrapes nothing.\nglobal:\n  scrape_interval: 1m\n' \
        >"$dir/receiver.yml"
    prometheus --config.file="$dir/receiver.yml" --storage.tsdb.path="$dir/tsdb" \
        --storage.tsdb.retention.time=1d --web.listen-address="127.0.0.1:$RECEIVER_PORT" \
        --web.enable-remote-write-receiver --query.max-samples=200000000 \
        >"$dir/receiver.log" 2>&1 &
    RECEIVER_PID=$!
    wait_http "http://127.0.0.1:$RECEIVER_PORT/-/ready" 60 "$RECEIVER_PID" ||
        { tail -20 "$dir/receiver.log" >&2; die "receiver did not become ready"; }
}
stop_receiver() { stop_pid "$RECEIVER_PID" 30; RECEIVER_PID=""; }

# ---- one agent run --------------------------------------------------------------
# run_agent AGENT DIR [profile]: farm + receiver + agent for WINDOW_S, then the
# targets stop, DRAIN_S to send, SIGTERM, and counts. Writes DIR/run.env.
run_agent() {
    local agent=$1 dir=$2 profile=${3:-}
    mkdir -p "$dir"
    write_config "$agent" "$dir/config.yml" "$([ "$agent" = vmagent ] && echo 0 || echo 1)"
    if [ "$agent" = tern ]; then
        "$TERN" check-config "$dir/config.yml" >/dev/null || die "tern rejects $dir/config.yml"
    fi

    start_receiver "$dir"
    start_farm "$TARGETS" "$BODY" "$BASE_PORT" "$dir/access.log" || die "target farm did not start"
    local nginx_worker nginx_t0 recv_t0 busy0 total0 load0
    nginx_worker=$(pgrep -P "$FARM_PID" | head -1 || true)
    nginx_t0=$(($(cpu_ticks_or_0 "$FARM_PID") + ${nginx_worker:+$(cpu_ticks_or_0 "$nginx_worker")}+0))
    recv_t0=$(cpu_ticks_or_0 "$RECEIVER_PID")
    read -r busy0 total0 < <(sys_jiffies)
    load0=$(loadavg)

    local -a cmd
    mapfile -t cmd < <(agent_cmd "$agent" "$dir")
    rm -f "$dir/agent.pid" "$dir/result.json"
    local t_start
    t_start=$(now)
    python3 "$BENCH/lib/measure.py" "$dir/result.json" "$dir/agent.pid" -- "${cmd[@]}" \
        >"$dir/agent.log" 2>&1 &
    WRAP_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do [ -s "$dir/agent.pid" ] && break; sleep 0.05; done
    AGENT_PID=$(cat "$dir/agent.pid" 2>/dev/null || true)
    [ -n "$AGENT_PID" ] || die "$agent did not start"
    log "$agent: pid $AGENT_PID, ${WINDOW_S}s window (load average $load0)"
    wait_http "http://127.0.0.1:$AGENT_PORT$(agent_ready_path "$agent")" 30 "$AGENT_PID" ||
        { tail -20 "$dir/agent.log" >&2; die "$agent not ready after 30 s"; }

    if [ -n "$profile" ]; then
        local until_perf
        until_perf=$(calc "$PERF_DELAY_S - ($(now) - $t_start)" 3)
        if awk "BEGIN { exit !($until_perf > 0) }"; then pause "$until_perf"; fi
        log "$agent: perf record --call-graph dwarf -p $AGENT_PID for ${PERF_S}s"
        cat "/proc/$AGENT_PID/smaps_rollup" >"$dir/smaps_rollup-perf.txt" 2>/dev/null || true
        perf record -q --call-graph dwarf,16384 -o "$dir/perf.data" -p "$AGENT_PID" -- sleep "$PERF_S" \
            >"$dir/perf-record.log" 2>&1 &
        PERF_PID=$!
        wait "$PERF_PID" || true
        PERF_PID=""
    fi
    local left
    left=$(calc "$WINDOW_S - ($(now) - $t_start)" 3)
    if awk "BEGIN { exit !($left > 0) }"; then pause "$left"; fi
    kill -0 "$AGENT_PID" 2>/dev/null || { tail -20 "$dir/agent.log" >&2; die "$agent exited during the run"; }

    # End of the window: snapshot, then stop the targets. nginx's graceful stop
    # finishes (and logs) the requests in flight, so every scrape in the log got
    # its whole body; later scrapes fail (up 0, stale markers), which the agents
    # send during the drain like any other samples.
    local cpu_window hwm_window rss_window
    cpu_window=$(cpu_ticks_or_0 "$AGENT_PID")
    hwm_window=$(status_kib "$AGENT_PID" VmHWM)
    rss_window=$(status_kib "$AGENT_PID" VmRSS)
    cat "/proc/$AGENT_PID/status" >"$dir/status-window.txt" 2>/dev/null || true
    cat "/proc/$AGENT_PID/smaps_rollup" >"$dir/smaps_rollup-window.txt" 2>/dev/null || true
    curl -fsS --max-time 10 "http://127.0.0.1:$AGENT_PORT/metrics" >"$dir/metrics-window.txt" 2>/dev/null || true
    # Wire bytes per sample in the steady state: the proxy's byte count and the
    # receiver's appended samples at the same moment (no stale markers yet).
    curl -fsS --max-time 10 "http://127.0.0.1:$PROXY_PORT/stats" >"$dir/proxy-stats-window.json" || true
    curl -fsS --max-time 10 "http://127.0.0.1:$RECEIVER_PORT/metrics" >"$dir/receiver-metrics-window.txt" || true
    local nginx_t1 t_quit
    nginx_t1=$(($(cpu_ticks_or_0 "$FARM_PID") + ${nginx_worker:+$(cpu_ticks_or_0 "$nginx_worker")}+0))
    t_quit=$(now)
    stop_farm
    log "$agent: targets stopped; ${DRAIN_S}s drain"
    pause "$DRAIN_S"
    curl -fsS --max-time 10 "http://127.0.0.1:$AGENT_PORT/metrics" >"$dir/metrics-end.txt" 2>/dev/null || true

    # Graceful stop; the agent's CPU and peak RSS come from wait4() at its exit.
    local t_term
    t_term=$(now)
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    local killed=0
    for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
        kill -0 "$WRAP_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$AGENT_PID" 2>/dev/null; then
        log "$agent: still running ${STOP_TIMEOUT_S}s after SIGTERM: SIGKILL"
        kill -KILL "$AGENT_PID" 2>/dev/null || true
        killed=1
    fi
    wait "$WRAP_PID" 2>/dev/null || true
    WRAP_PID=""
    AGENT_PID=""
    local t_exit
    t_exit=$(now)
    [ -s "$dir/result.json" ] || die "$agent: no resource figures ($dir/result.json)"
    local recv_t1 busy1 total1 load1
    recv_t1=$(cpu_ticks_or_0 "$RECEIVER_PID")
    read -r busy1 total1 < <(sys_jiffies)
    load1=$(loadavg)

    # ---- counts ----
    # Scrapes the targets served (the farm's log is complete after its stop).
    local scrapes_ok scrapes_other
    scrapes_ok=$(awk '$4 == 200' "$dir/access.log" | wc -l)
    scrapes_other=$(awk '$4 != 200' "$dir/access.log" | wc -l)
    # Samples at the receiver (stale markers are not counted: PromQL skips them).
    curl -fsS --max-time 10 "http://127.0.0.1:$RECEIVER_PORT/metrics" >"$dir/receiver-metrics.txt"
    python3 "$BENCH/lib/count_samples.py" "http://127.0.0.1:$RECEIVER_PORT" "$agent" \
        "$(calc "$t_start - 30" 3)" "$(now)" "$t_quit" "$(echo "$AUTO_SERIES" | tr ' ' ',')" "$BODY" \
        >"$dir/counts.env" || die "$agent: counting samples at the receiver failed"
    local appended rejected
    appended=$(metric_sum "$dir/receiver-metrics.txt" prometheus_tsdb_head_samples_appended_total)
    rejected=$(($(metric_sum "$dir/receiver-metrics.txt" prometheus_tsdb_out_of_order_samples_total) +
        $(metric_sum "$dir/receiver-metrics.txt" prometheus_tsdb_out_of_bound_samples_total) +
        $(metric_sum "$dir/receiver-metrics.txt" prometheus_tsdb_too_old_samples_total)))
    stop_receiver

    # Wire bytes from the proxy.
    curl -fsS --max-time 10 "http://127.0.0.1:$PROXY_PORT/stats" >"$dir/proxy-stats.json"
    local wire_bytes wire_requests wire_status wire_bytes_window
    read -r wire_bytes wire_requests wire_status wire_bytes_window < <(python3 - "$dir/proxy-stats.json" "$dir/proxy-stats-window.json" "$agent" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])).get(sys.argv[3], {})
try:
    w = json.load(open(sys.argv[2])).get(sys.argv[3], {})
except (OSError, ValueError):
    w = {}
st = ",".join(f"{k}:{v}" for k, v in sorted(s.get("status", {}).items())) or "-"
print(s.get("body_bytes", 0), s.get("requests", 0), st, w.get("body_bytes", 0))
PY
)
    local appended_window
    appended_window=$(metric_sum "$dir/receiver-metrics-window.txt" prometheus_tsdb_head_samples_appended_total)
    # The agent's own remote-write counters (bytes, samples) at the end of the drain.
    local own_bytes own_samples
    case "$agent" in
    vmagent)
        own_bytes=$(metric_sum "$dir/metrics-end.txt" vmagent_remotewrite_bytes_sent_total)
        own_samples=$(metric_sum "$dir/metrics-end.txt" vmagent_remotewrite_block_size_rows_sum) ;;
    *)
        own_bytes=$(metric_sum "$dir/metrics-end.txt" prometheus_remote_storage_bytes_total)
        own_samples=$(metric_sum "$dir/metrics-end.txt" prometheus_remote_storage_samples_total) ;;
    esac

    local clk
    clk=$(getconf CLK_TCK)
    python3 - "$dir/result.json" >"$dir/run.env" <<PY
import json, sys
r = json.load(open(sys.argv[1]))
clk = $clk
print(f"CPU_S={r['cpu_s']:.2f}")
print(f"UTIME_S={r['utime_s']:.2f}")
print(f"STIME_S={r['stime_s']:.2f}")
print(f"RSS_MIB={r['maxrss_kib'] / 1024:.1f}")
print(f"WALL_S={r['wall_s']:.1f}")
print(f"EXIT={r['exit_code'] if r['exit_code'] is not None else 'signal' + str(r['signal'])}")
print(f"CPU_WINDOW_S={$cpu_window / clk:.2f}")
print(f"HWM_WINDOW_MIB={$hwm_window / 1024:.1f}")
print(f"RSS_WINDOW_MIB={$rss_window / 1024:.1f}")
print(f"NGINX_CPU_S={($nginx_t1 - $nginx_t0) / clk:.2f}")
print(f"RECEIVER_CPU_S={($recv_t1 - $recv_t0) / clk:.2f}")
busy = ($busy1 - $busy0) / max(1, $total1 - $total0) * $(nproc)
print(f"MACHINE_BUSY={busy:.2f}")
print(f"SHUTDOWN_S={$t_exit - $t_term:.1f}")
PY
    {
        echo "KILLED=$killed"
        echo "LOAD_START='$load0'"
        echo "LOAD_END='$load1'"
        echo "SCRAPES_OK=$scrapes_ok"
        echo "SCRAPES_OTHER=$scrapes_other"
        cat "$dir/counts.env"
        echo "APPENDED=$appended"
        echo "REJECTED=$rejected"
        echo "WIRE_BYTES=$wire_bytes"
        echo "WIRE_REQUESTS=$wire_requests"
        echo "WIRE_STATUS='$wire_status'"
        echo "WIRE_BYTES_WINDOW=$wire_bytes_window"
        echo "APPENDED_WINDOW=$appended_window"
        echo "OWN_BYTES=$own_bytes"
        echo "OWN_SAMPLES=$own_samples"
    } >>"$dir/run.env"
    if [ -n "$profile" ] && [ -s "$dir/perf.data" ]; then
        perf report -i "$dir/perf.data" --stdio --no-children --percent-limit 1 \
            >"$dir/perf-report.txt" 2>/dev/null || true
        perf report -i "$dir/perf.data" --stdio --no-children -g none --sort dso,sym \
            --percent-limit 0.3 >"$dir/perf-flat.txt" 2>/dev/null || true
    fi
}

# ---- set-up -----------------------------------------------------------------
[ "$TARGETS" -ge 1 ] || die "TARGETS must be >= 1"
[ "$WINDOW_S" -ge $((2 * SCRAPE_INTERVAL_S)) ] ||
    die "WINDOW_S ($WINDOW_S) must be at least two scrape intervals"
install_deps
for a in $AGENTS; do
    case "$a" in tern | prometheus-agent | vmagent) ;; *) die "unknown agent $a" ;; esac
done
if [ -n "$BENCH_OUT" ]; then
    mkdir -p "$BENCH_OUT"
    WORK=$(cd "$BENCH_OUT" && pwd)
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/tern-e2e.XXXXXX")
fi
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
port_busy() { # PORT: something listens on it (any address)
    if command -v ss >/dev/null; then
        [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
    else
        curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$1/" 2>/dev/null
    fi
}
for port in "$RECEIVER_PORT" "$PROXY_PORT" "$AGENT_PORT" $(seq "$BASE_PORT" $((BASE_PORT + TARGETS - 1))); do
    port_busy "$port" && die "port $port is already in use (set BASE_PORT, RECEIVER_PORT, PROXY_PORT, AGENT_PORT)"
done

case " $AGENTS " in *" tern "*)
    if [ -n "$TERN_BIN" ]; then
        TERN=$TERN_BIN
        REV="prebuilt $TERN_BIN"
    else
        if [ "$SKIP_BUILD" != 1 ]; then
            log "building tern (cargo build --release)"
            (cd "$ROOT" && cargo build --release --quiet) || die "cargo build failed"
        fi
        TERN=$ROOT/target/release/tern
        REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
        git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || REV="$REV+uncommitted"
        if [ "$SKIP_BUILD" = 1 ]; then REV="$REV, prebuilt binary"; fi
    fi
    [ -x "$TERN" ] || die "$TERN not built"
    ;;
esac

BODY=$WORK/body.prom
python3 "$BENCH/lib/gen_body.py" --series "$SERIES" "$BODY"
BODY_BYTES=$(wc -c <"$BODY")

python3 "$BENCH/lib/rw_proxy.py" "$PROXY_PORT" "http://127.0.0.1:$RECEIVER_PORT/api/v1/write" \
    >"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
wait_http "http://127.0.0.1:$PROXY_PORT/stats" 10 "$PROXY_PID" || die "proxy did not start"

PROM_VERSION=$(prometheus --version 2>&1 | awk 'NR == 1 { print $3 }')
VM_VERSION=$(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null || echo '?')
log "body: $SERIES series, $BODY_BYTES bytes; $TARGETS targets on 127.0.0.1:$BASE_PORT-$((BASE_PORT + TARGETS - 1))"

# ---- the runs -------------------------------------------------------------------
for a in $AGENTS; do
    run_agent "$a" "$WORK/$a"
done

# ---- report -----------------------------------------------------------------------
# Every scrape the targets served arrived whole: its body and its automatic
# samples. Uses the variables of a sourced run.env.
all_delivered() {
    [ "$BODY_DELIVERED" -eq $((SCRAPES_OK * SERIES)) ] && [ "$UP_OK" -eq "$SCRAPES_OK" ] &&
        [ "$AUTO_OK" -eq $((SCRAPES_OK * N_AUTO)) ]
}
field() { # AGENT VAR
    (
        # shellcheck disable=SC1090
        source "$WORK/$1/run.env"
        eval "echo \"\${$2}\""
    )
}
NCPU=$(nproc)
echo
echo "tern end-to-end comparison  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -m), $NCPU cores)"
echo "  $TARGETS targets x $SERIES series (nginx on 127.0.0.1, body $BODY_BYTES bytes), interval ${SCRAPE_INTERVAL_S}s, timeout ${SCRAPE_TIMEOUT_S}s;"
echo "  each agent alone: ${WINDOW_S}s scraping, targets stopped, ${DRAIN_S}s drain, SIGTERM; receiver Prometheus $PROM_VERSION"
echo "  versions: tern ${REV:-not run}, Prometheus $PROM_VERSION (--enable-feature=agent), vmagent $VM_VERSION"
echo
printf '  %-17s %7s %10s %7s %29s %-11s %8s\n' "agent" "CPU-s" "peak RSS" "scrapes" "samples delivered / expected" "" "B/sample"
printf '  %-17s %7s %10s %7s %29s %-11s %8s\n' "-----------------" "-------" "----------" "-------" "-----------------------------" "-----------" "--------"
for a in $AGENTS; do
    (
        # shellcheck disable=SC1090
        source "$WORK/$a/run.env"
        expected=$((SCRAPES_OK * (SERIES + N_AUTO)))
        delivered=$((BODY_DELIVERED + AUTO_OK))
        if all_delivered; then all="all"; else all="MISSING $((expected - delivered))"; fi
        bps=$(calc "$WIRE_BYTES_WINDOW / ($APPENDED_WINDOW > 0 ? $APPENDED_WINDOW : 1)" 2)
        printf '  %-17s %7s %6s MiB %7s %29s %-11s %8s\n' "$a" "$CPU_S" "$RSS_MIB" "$SCRAPES_OK" \
            "$(thousands "$delivered") / $(thousands "$expected")" "$all" "$bps"
    )
done

echo
echo "  details (CPU and peak RSS: the agent's whole life, start to exit, from wait4;"
echo "  expected = scrapes served (nginx log, status 200) x ($SERIES + $N_AUTO automatic series);
  B/sample = remote-write request body bytes / samples the receiver appended, both up to the window's end):"
for a in $AGENTS; do
    (
        # shellcheck disable=SC1090
        source "$WORK/$a/run.env"
        echo "  $a:"
        echo "    CPU ${CPU_S}s (user $UTIME_S, sys $STIME_S) over ${WALL_S}s; ${CPU_WINDOW_S}s in the ${WINDOW_S}s window ($(calc "$CPU_WINDOW_S / $WINDOW_S" 3) cores); shutdown took ${SHUTDOWN_S}s, exit $EXIT$([ "$KILLED" = 1 ] && echo ' (SIGKILL)')"
        echo "    memory: peak RSS ${RSS_MIB} MiB at exit, ${HWM_WINDOW_MIB} MiB at the window's end (RSS then ${RSS_WINDOW_MIB} MiB)"
        echo "    scrapes served: $SCRAPES_OK (200), $SCRAPES_OTHER other; at the receiver: up 1 x $UP_OK, up 0 x $UP_FAILED ($UP_FAILED_BEFORE_QUIT before the targets stopped)"
        echo "    body samples: $(thousands "$BODY_DELIVERED") of $(thousands $((SCRAPES_OK * SERIES))) ($(thousands "$SERIES_BODY") series); automatic samples of successful scrapes: $(thousands "$AUTO_OK") of $(thousands $((SCRAPES_OK * N_AUTO)))"
        echo "    CPU per 1,000 samples delivered: $(calc "1000 * $CPU_S / ($BODY_DELIVERED + $AUTO_OK + 1)" 4) s"
        if [ "$EXTRA_NAMES" != - ]; then
            echo "    other series the agent adds (not counted): $EXTRA_NAMES, $(thousands "$EXTRA_SAMPLES") samples"
        fi
        echo "    wire: $(thousands "$WIRE_BYTES") bytes in $WIRE_REQUESTS requests (status $WIRE_STATUS); receiver appended $(thousands "$APPENDED") samples, rejected $REJECTED"
        echo "    bytes per sample: $(calc "$WIRE_BYTES_WINDOW / ($APPENDED_WINDOW > 0 ? $APPENDED_WINDOW : 1)" 2) up to the window's end ($(thousands "$WIRE_BYTES_WINDOW") B / $(thousands "$APPENDED_WINDOW")), $(calc "$WIRE_BYTES / ($APPENDED > 0 ? $APPENDED : 1)" 2) over the whole run (stale markers and failed scrapes included)"
        if [ "${OWN_SAMPLES:-0}" -gt 0 ]; then
            echo "    own counters: $(thousands "$OWN_BYTES") bytes, $(thousands "$OWN_SAMPLES") samples sent ($(calc "$OWN_BYTES / $OWN_SAMPLES" 2) B/sample)"
        fi
        echo "    machine during the run: load average $LOAD_START -> $LOAD_END, busy $MACHINE_BUSY of $NCPU cores; nginx ${NGINX_CPU_S} CPU-s, receiver ${RECEIVER_CPU_S} CPU-s"
    )
done

# Ratios and goals, when tern and a peer ran.
GOALS_MET=""
ratio_line() { # PEER
    local peer=$1
    [ -s "$WORK/tern/run.env" ] && [ -s "$WORK/$peer/run.env" ] || return 0
    local tc tr pc pr
    tc=$(field tern CPU_S); tr=$(field tern RSS_MIB)
    pc=$(field "$peer" CPU_S); pr=$(field "$peer" RSS_MIB)
    printf '  tern / %-17s CPU %sx   peak RSS %sx\n' "$peer:" "$(calc "$tc / $pc" 2)" "$(calc "$tr / $pr" 2)"
}
echo
ratio_line vmagent
ratio_line prometheus-agent
if [ -s "$WORK/tern/run.env" ]; then
    tern_all=$(
        # shellcheck disable=SC1090,SC1091
        source "$WORK/tern/run.env"
        all_delivered && echo 1 || echo 0
    )
    verdict() { [ "$1" = 1 ] && echo met || echo MISSED; }
    echo
    echo "  goals (tern vs vmagent, from the issue):"
    if [ -s "$WORK/vmagent/run.env" ]; then
        cpu_ok=$(awk "BEGIN { print ($(field tern CPU_S) <= 0.5 * $(field vmagent CPU_S)) ? 1 : 0 }")
        rss_ok=$(awk "BEGIN { print ($(field tern RSS_MIB) <= 0.5 * $(field vmagent RSS_MIB)) ? 1 : 0 }")
        echo "    CPU <= 0.5 x vmagent's ($(calc "0.5 * $(field vmagent CPU_S)" 2) s):       $(verdict "$cpu_ok")"
        echo "    peak RSS <= 0.5 x vmagent's ($(calc "0.5 * $(field vmagent RSS_MIB)" 1) MiB): $(verdict "$rss_ok")"
        GOALS_MET="$cpu_ok$rss_ok"
    else
        echo "    (vmagent not run: CPU and RSS goals not judged)"
    fi
    echo "    every sample delivered:                $(verdict "$tern_all")"
    GOALS_MET="$GOALS_MET$tern_all"
fi

# ---- optional profile of tern (a separate run, so the figures above are unperturbed) ----
if [ -s "$WORK/tern/run.env" ] && { [ "$BENCH_PERF" = 1 ] || { [ "$BENCH_PERF" = auto ] && [[ "$GOALS_MET" == *0* ]]; }; }; then
    if command -v perf >/dev/null; then
        log "profiled tern run (perf from second $PERF_DELAY_S for ${PERF_S}s)"
        run_agent tern "$WORK/tern-profile" profile
        KEEP_WORK=1
        echo
        echo "  profile of a separate tern run: $WORK/tern-profile/perf-report.txt (call graphs),"
        echo "  $WORK/tern-profile/perf-flat.txt (flat), smaps_rollup-*.txt; top symbols:"
        grep -v '^#' "$WORK/tern-profile/perf-flat.txt" | grep -v '^$' | head -25 | sed 's/^/    /' || true
    else
        log "perf not installed: no profile"
    fi
fi
if [ -n "$BENCH_OUT" ] || [ "$KEEP_WORK" = 1 ]; then echo "  artifacts: $WORK"; fi
exit 0
