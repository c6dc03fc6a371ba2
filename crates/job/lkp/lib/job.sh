# gauntlet's job runtime: the functions a job2sh script calls from run_job().
# POSIX sh (dash, busybox ash). Expects LKP_SRC, TMP and RESULT_ROOT (defaults below).

: "${TMP:=/tmp/lkp}"
: "${RESULT_ROOT:=$TMP/result}"
export TMP RESULT_ROOT
mkdir -p "$TMP" "$RESULT_ROOT"

# job2sh writes `run_test k=v ... COMMAND ARGS`: the leading NAME=VALUE words are the
# program's environment.

# The name a command line runs: `.../bin/run-test NAME` or `.../wrapper NAME` give NAME,
# anything else the basename of the command.
program_name()
{
	while [ $# -gt 0 ]; do
		case "$1" in
		[A-Za-z_]*=*) shift ;;
		*) break ;;
		esac
	done
	case "$1" in
	*/bin/run-*|*/wrapper)
		echo "$2" ;;
	*)
		echo "${1##*/}" ;;
	esac
}

# Exports the `key: value` lines a setup wrote to $TMP/env.yaml.
read_env_vars()
{
	[ -f "$TMP/env.yaml" ] || return 0
	while IFS= read -r line; do
		key=${line%%:*}
		val=${line#*:}
		val=${val# }
		case "$key" in
		''|[0-9]*|*[!A-Za-z0-9_]*) continue ;;
		esac
		export "$key=$val"
	done < "$TMP/env.yaml"
	rm -f "$TMP/env.yaml"
}

# Runs "$@" in a subshell, exporting its leading NAME=VALUE words first.
with_env()
{
	(
		while [ $# -gt 0 ]; do
			case "$1" in
			[A-Za-z_]*=*) export "$1"; shift ;;
			*) break ;;
			esac
		done
		exec "$@"
	)
}

run_setup()
{
	name=$(program_name "$@")
	echo "setup: $name" >> "$TMP/log"
	with_env "$@" >> "$RESULT_ROOT/$name.setup" 2>&1
	status=$?
	[ "$status" = 0 ] || echo "$name $status" >> "$TMP/failed-setups"
	read_env_vars
	return 0
}

run_monitor()
{
	name=$(program_name "$@")
	with_env "$@" > "$RESULT_ROOT/$name" 2>&1 &
	echo $! >> "$TMP/pid-monitors"
}

start_daemon()
{
	name=$(program_name "$@")
	with_env "$@" > "$RESULT_ROOT/$name" 2>&1 &
	echo $! >> "$TMP/pid-daemons"
}

run_test()
{
	name=$(program_name "$@")
	start=$(date +%s)
	with_env "$@" > "$RESULT_ROOT/$name" 2>&1
	status=$?
	end=$(date +%s)
	{
		echo "start: $start"
		echo "end: $end"
		echo "elapsed: $((end - start))"
		echo "exit_status: $status"
	} > "$RESULT_ROOT/$name.time"
	[ "$status" = 0 ] || echo "$name $status" >> "$TMP/failed-tests"
	return 0
}

# Stops what run_monitor and start_daemon started.
stop_background()
{
	for f in "$TMP/pid-monitors" "$TMP/pid-daemons"; do
		[ -f "$f" ] || continue
		while read -r pid; do
			kill "$pid" 2>/dev/null
		done < "$f"
		rm -f "$f"
	done
}
