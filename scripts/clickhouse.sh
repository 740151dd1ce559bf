#!/usr/bin/env bash
# Runs a throwaway ClickHouse server for Sluice's integration tests, from the
# project's own config (deploy/clickhouse), with its data under a temp dir.
#
#   eval "$(bash scripts/clickhouse.sh start)"   # start; prints the exports
#   bash scripts/clickhouse.sh stop-server        # stop it, keep its data
#   bash scripts/clickhouse.sh start-server       # start it again on that data
#   bash scripts/clickhouse.sh status             # exit 0 when it answers
#   bash scripts/clickhouse.sh stop               # stop it and remove the dir
#   bash scripts/clickhouse.sh install            # apt-get install clickhouse-server
#
# start prints, and only it prints to stdout:
#   export SLUICE_TEST_CLICKHOUSE=clickhouse://127.0.0.1:PORT/default
#   export SLUICE_CLICKHOUSE_DIR=DIR
#   export SLUICE_CLICKHOUSE_PID=PID
# The other commands read SLUICE_CLICKHOUSE_DIR (or take DIR as their second
# argument). The server's pid and ports are also kept in DIR, so stop-server /
# start-server work from a test process whose environment is older than the
# restart. Everything else goes to stderr.
#
# SLUICE_CLICKHOUSE_PORT / SLUICE_CLICKHOUSE_HTTP_PORT choose the ports
# (default 19000 / 18123; when the default is taken, because another checkout
# on this machine runs its own server, the next free port is used).
# Works as root and without systemd.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
config="$root/deploy/clickhouse/config.xml"

log() { echo "clickhouse.sh: $*" >&2; }
die() { log "$*"; exit 1; }

server_cmd() {
	if command -v clickhouse-server >/dev/null 2>&1; then
		echo clickhouse-server
	elif command -v clickhouse >/dev/null 2>&1; then
		echo "clickhouse server"
	else
		die "neither clickhouse-server nor clickhouse is installed (Debian: apt-get install clickhouse-server)"
	fi
}

port_free() {
	# A connect that fails means nobody listens there.
	! { (exec 3<>"/dev/tcp/127.0.0.1/$1"); } 2>/dev/null
}

# reserved PORT: another server dir made by this script records PORT. Its
# server may be stopped for a while (stop-server, as the ClickHouse outage
# test does) and will start again on the same ports: a port free only
# meanwhile is not free. Taking it made the restarted server fail to bind
# while the script, answered by the newcomer on the same port, reported
# it started, and the outage test read another server's tables.
reserved() {
	local f
	for f in "${TMPDIR:-/tmp}"/sluice-clickhouse.*/tcp_port "${TMPDIR:-/tmp}"/sluice-clickhouse.*/http_port; do
		[[ -f "$f" && "$(cat "$f" 2>/dev/null)" == "$1" ]] && return 0
	done
	return 1
}

pick_port() { # pick_port VAR_NAME DEFAULT
	local want="${!1:-}" p
	if [[ -n "$want" ]]; then
		port_free "$want" || die "port $want (from $1) is already in use"
		echo "$want"
		return
	fi
	for ((p = $2; p < $2 + 50; p++)); do
		if port_free "$p" && ! reserved "$p"; then
			echo "$p"
			return
		fi
	done
	die "no free port in $2..$(($2 + 49)); set $1"
}

ping_raw() { # ping_raw HTTP_PORT: the raw reply to GET /ping
	exec 3<>"/dev/tcp/127.0.0.1/$1"
	printf 'GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	timeout 2 cat <&3
}

answers() { # answers HTTP_PORT: the server's /ping replies "Ok."
	local reply
	reply="$( { ping_raw "$1"; } 2>/dev/null)" || return 1
	[[ "$reply" == *"Ok."* ]]
}

dir_arg() {
	local dir="${1:-${SLUICE_CLICKHOUSE_DIR:-}}"
	[[ -n "$dir" ]] || die "no server dir: set SLUICE_CLICKHOUSE_DIR or pass it"
	[[ -f "$dir/.sluice-clickhouse" ]] || die "$dir is not a directory made by clickhouse.sh start"
	echo "$dir"
}

start_server() { # start_server DIR: starts from DIR's recorded ports, waits
	local dir="$1" tcp http pid i
	tcp="$(cat "$dir/tcp_port")"
	http="$(cat "$dir/http_port")"
	if [[ -f "$dir/server.pid" ]] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
		die "server already running (pid $(cat "$dir/server.pid"))"
	fi
	port_free "$tcp" || die "port $tcp is already in use"
	mkdir -p "$dir/data" "$dir/tmp" "$dir/log" "$dir/user_files" "$dir/format_schemas"
	# setsid: the server must outlive this script and not share its
	# process group, so a Ctrl-C in the caller's terminal reaches it only
	# through stop.
	# shellcheck disable=SC2046
	setsid $(server_cmd) --config-file="$config" -- \
		--path="$dir/data/" --tmp_path="$dir/tmp/" \
		--user_files_path="$dir/user_files/" --format_schema_path="$dir/format_schemas/" \
		--logger.log="$dir/log/clickhouse-server.log" \
		--logger.errorlog="$dir/log/clickhouse-server.err.log" \
		--tcp_port="$tcp" --http_port="$http" \
		</dev/null >>"$dir/log/stdout.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/server.pid"
	for ((i = 0; i < 300; i++)); do
		# The answer must be this server's: one that cannot bind its
		# ports exits, and another may answer on them.
		if answers "$http" && sleep 0.5 && kill -0 "$pid" 2>/dev/null; then
			log "server pid $pid answers on 127.0.0.1:$tcp (native), :$http (http); data in $dir"
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$dir/log/stdout.log" "$dir/log/clickhouse-server.err.log" >&2 2>/dev/null || true
			die "server exited during startup"
		fi
		sleep 0.1
	done
	tail -n 30 "$dir/log/clickhouse-server.err.log" >&2 2>/dev/null || true
	die "server did not answer on :$http within 30 s"
}

stop_server() { # stop_server DIR
	local dir="$1" pid i
	[[ -f "$dir/server.pid" ]] || return 0
	pid="$(cat "$dir/server.pid")"
	rm -f "$dir/server.pid"
	kill -0 "$pid" 2>/dev/null || return 0
	kill "$pid" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || { log "server pid $pid stopped"; return 0; }
		sleep 0.1
	done
	log "server pid $pid did not stop in 15 s; killing it"
	kill -9 "$pid" 2>/dev/null || true
}

case "${1:-}" in
start)
	[[ -f "$config" ]] || die "missing $config"
	dir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-clickhouse.XXXXXX")"
	touch "$dir/.sluice-clickhouse"
	tcp="$(pick_port SLUICE_CLICKHOUSE_PORT 19000)"
	http="$(pick_port SLUICE_CLICKHOUSE_HTTP_PORT 18123)"
	echo "$tcp" >"$dir/tcp_port"
	echo "$http" >"$dir/http_port"
	if ! start_server "$dir"; then
		rm -rf "$dir"
		exit 1
	fi
	echo "export SLUICE_TEST_CLICKHOUSE=clickhouse://127.0.0.1:$tcp/default"
	echo "export SLUICE_CLICKHOUSE_DIR=$dir"
	echo "export SLUICE_CLICKHOUSE_PID=$(cat "$dir/server.pid")"
	;;
stop)
	dir="$(dir_arg "${2:-}")"
	stop_server "$dir"
	rm -rf "$dir"
	;;
stop-server)
	stop_server "$(dir_arg "${2:-}")"
	;;
start-server)
	start_server "$(dir_arg "${2:-}")"
	;;
install)
	# Debian's package; its service is not started (there is no systemd
	# here, and tests run their own server from deploy/clickhouse).
	if command -v clickhouse-server >/dev/null 2>&1 || command -v clickhouse >/dev/null 2>&1; then
		log "already installed"
		exit 0
	fi
	sudo=""
	[[ "$(id -u)" == 0 ]] || sudo="sudo"
	$sudo apt-get update >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends clickhouse-server >&2
	;;
status)
	dir="$(dir_arg "${2:-}")"
	answers "$(cat "$dir/http_port")"
	;;
*)
	die "usage: clickhouse.sh start | stop [DIR] | stop-server [DIR] | start-server [DIR] | status [DIR] | install"
	;;
esac
