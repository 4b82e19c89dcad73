# shellcheck shell=bash
# Target farm for end-to-end benchmarks: one nginx (one worker) that listens on
# N consecutive ports of 127.0.0.1 and serves a fixed exposition body at
# /metrics, logging `$msec $server_port $request_time $status` per request.
#
# Source this file, then:
#   start_farm N_TARGETS BODY_FILE BASE_PORT LOGFILE   # ports BASE..BASE+N-1
#   stop_farm                                          # graceful stop, flushes the log
#
# start_farm sets FARM_DIR (temp dir: nginx.conf, pid, error.log) and FARM_PID
# (nginx master). nginx runs as the current user, daemonized, with every path
# it writes inside FARM_DIR (plus LOGFILE), so it needs no system set-up.
# Requires: nginx (Debian: nginx-light), curl.

FARM_DIR=""
FARM_PID=""

# Installs nginx (Debian's nginx-light) and curl when missing.
farm_install_deps() {
    local missing=()
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "farm: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

farm_nginx_bin() {
    command -v nginx 2>/dev/null || echo /usr/sbin/nginx
}

start_farm() {
    local n=$1 body=$2 base=$3 log=$4
    if [ -n "$FARM_PID" ]; then
        echo "farm: already running (pid $FARM_PID)" >&2
        return 1
    fi
    [ -r "$body" ] || { echo "farm: body file $body not readable" >&2; return 1; }
    body=$(cd "$(dirname "$body")" && pwd)/$(basename "$body")
    case "$log" in /*) ;; *) log=$PWD/$log ;; esac
    : >"$log"
    local nginx
    nginx=$(farm_nginx_bin)
    FARM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tern-farm.XXXXXX")
    local conf=$FARM_DIR/nginx.conf user_line=""
    # As root, nginx would switch its worker to `nobody`; keep the current user.
    if [ "$(id -u)" -eq 0 ]; then
        user_line="user $(id -un) $(id -gn);"
    fi
    {
        cat <<CONF
$user_line
daemon on;
master_process on;
worker_processes 1;
worker_rlimit_nofile 16384;
pid $FARM_DIR/nginx.pid;
error_log $FARM_DIR/error.log warn;
events {
    worker_connections 8192;
}
http {
    client_body_temp_path $FARM_DIR/client_body;
    proxy_temp_path $FARM_DIR/proxy;
    fastcgi_temp_path $FARM_DIR/fastcgi;
    uwsgi_temp_path $FARM_DIR/uwsgi;
    scgi_temp_path $FARM_DIR/scgi;
    log_format scrape '\$msec \$server_port \$request_time \$status';
    access_log $log scrape buffer=256k flush=1s;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 120s;
    keepalive_requests 100000;
    server_tokens off;
    server {
CONF
        local p
        for ((p = base; p < base + n; p++)); do
            echo "        listen 127.0.0.1:$p;"
        done
        cat <<CONF
        location = /metrics {
            types { }
            default_type "text/plain; version=0.0.4";
            alias $body;
        }
        # Readiness probe for start_farm; not logged, so the log holds scrapes only.
        location = /-/ready {
            access_log off;
            return 200;
        }
        location / {
            return 404;
        }
    }
}
CONF
    } >"$conf"
    # -e: the start-up error log (before the config's error_log applies).
    if ! "$nginx" -p "$FARM_DIR" -c "$conf" -e "$FARM_DIR/error.log"; then
        echo "farm: nginx failed to start; $FARM_DIR/error.log:" >&2
        tail -20 "$FARM_DIR/error.log" >&2 || true
        rm -rf "$FARM_DIR"
        FARM_DIR=""
        return 1
    fi
    local i
    for ((i = 0; i < 50; i++)); do
        [ -s "$FARM_DIR/nginx.pid" ] && break
        sleep 0.1
    done
    FARM_PID=$(cat "$FARM_DIR/nginx.pid" 2>/dev/null || true)
    if [ -z "$FARM_PID" ]; then
        echo "farm: nginx wrote no pid file" >&2
        rm -rf "$FARM_DIR"
        FARM_DIR=""
        return 1
    fi
    # Ready when the first and last ports answer.
    local last=$((base + n - 1))
    for ((i = 0; i < 50; i++)); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$base/-/ready" 2>/dev/null &&
            curl -fsS -o /dev/null "http://127.0.0.1:$last/-/ready" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "farm: nginx does not answer on 127.0.0.1:$base/$last" >&2
    stop_farm
    return 1
}

stop_farm() {
    [ -n "$FARM_PID" ] || return 0
    local i
    # QUIT: graceful stop, flushes the buffered access log.
    kill -QUIT "$FARM_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$FARM_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$FARM_PID" 2>/dev/null; then
        kill -TERM "$FARM_PID" 2>/dev/null || true
        sleep 0.5
        # The master's worker is its child: end both by their ids.
        local worker
        for worker in $(pgrep -P "$FARM_PID" 2>/dev/null || true); do
            kill -KILL "$worker" 2>/dev/null || true
        done
        kill -KILL "$FARM_PID" 2>/dev/null || true
    fi
    FARM_PID=""
    [ -n "$FARM_DIR" ] && rm -rf "$FARM_DIR"
    FARM_DIR=""
}
