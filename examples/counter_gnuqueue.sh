#!/bin/sh
# counter_gnuqueue.sh TARGET [--restart]: a GNU Queue style program, unchanged for libgat.
# On SIGUSR2 it saves its state to its restart file and exits; restarted with its restart flag
# (description keys: restartflag "--restart", restartfile "counter.state") it resumes.
n=0
case " $* " in *" --restart "*) n=$(cat counter.state) ;; esac
trap 'echo $n > counter.state; exit 0' USR2
echo "start $n"
while [ "$n" -lt "${1:-1000}" ]; do
    sleep 0.01 & wait $!
    n=$((n + 1))
done
echo "done $n"
