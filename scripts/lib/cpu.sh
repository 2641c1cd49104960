# shellcheck shell=bash
# CPU time of processes, for the benchmarks that print CPU per request
# (scripts/bench-chain.sh, scripts/bench-todo.sh). Everything is in clock
# ticks (`getconf CLK_TCK` per second), as "user system". Source it from the
# repository root.

# cpu_ticks PID...: what the processes have used so far (utime and stime of
# /proc/PID/stat: fields 14 and 15, counted after the command name, which
# may hold spaces).
cpu_ticks() {
  local pid
  for pid in "$@"; do sed 's/^.*) //' "/proc/$pid/stat"; done | awk '{u += $12; s += $13} END {print u + 0, s + 0}'
}

# family_cpu_ticks PID...: the same for the processes and their children
# (an nginx master forks its workers).
family_cpu_ticks() {
  local pid child all=()
  for pid in "$@"; do
    all+=("$pid")
    while read -r child; do all+=("$child"); done < <(pgrep -P "$pid")
  done
  cpu_ticks "${all[@]}"
}

# with_cpu_ticks FILE COMMAND...: run COMMAND (in a subshell, its output
# untouched) and write what it used to FILE: the subshell's children's
# times, read after COMMAND has been waited for. No GNU time needed.
with_cpu_ticks() {
  (
    local out=$1 stat
    shift
    "$@"
    read -r stat <"/proc/$BASHPID/stat" # a builtin: $BASHPID is this subshell
    stat=${stat##*) }
    # shellcheck disable=SC2086 # split the fields on purpose
    set -- $stat
    echo "${14} ${15}" >"$out"
  )
}
