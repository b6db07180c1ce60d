#!/bin/sh
# counter.sh TARGET: the counting "simulation" as a shell job following libgat's protocol.
# The three protocol lines are marked; everything else is the job's own work.
n=0
[ -n "$GAT_RESTART_FILE" ] && n=$(cat "$GAT_RESTART_FILE")                               # protocol 1: resume
trap 'echo $n > "$GAT_CHECKPOINT_FILE"; : > "$GAT_CHECKPOINT_DONE"' USR2                  # protocol 2: checkpoint
echo "start $n"
while [ "$n" -lt "${1:-1000}" ]; do
    sleep 0.01 & wait $!   # a trap runs only between commands: keep each one short
    n=$((n + 1))
done
echo "done $n"
