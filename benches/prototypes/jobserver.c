/* Prototype: what a job server (one long-lived parent of every job, small address space) costs
 * per job against raw posix_spawn + waitpid. Client and server talk over a socketpair; the
 * server spawns with posix_spawn, appends S/E lines to a log (as libgat's record log), and
 * reports the start and the exit. Not part of libgat and not built by it: a measurement for the
 * next design of the local adaptor (docs/BENCHMARKS.md, "where the rest goes"). Run:
 *   cc -O2 -o /tmp/jobserver benches/prototypes/jobserver.c && /tmp/jobserver 2000 [log file] */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

struct msg { int kind; int pid; int status; int tag; };

static void server(int sock, const char *logpath) {
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
    sigset_t set; sigemptyset(&set); sigaddset(&set, SIGCHLD); sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    char *argv[] = {"/bin/true", NULL};
    posix_spawnattr_t attr; posix_spawnattr_init(&attr);
    sigset_t empty; sigemptyset(&empty);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    struct pollfd p[2] = {{sock, POLLIN, 0}, {sfd, POLLIN, 0}};
    for (;;) {
        if (poll(p, 2, -1) < 0) continue;
        if (p[0].revents) {
            struct msg m;
            ssize_t n = read(sock, &m, sizeof m);
            if (n <= 0) break;
            pid_t pid;
            posix_spawn(&pid, "/bin/true", NULL, &attr, argv, environ);
            char line[128]; int len = snprintf(line, sizeof line, "S job%d %d\n", m.tag, pid);
            write(logfd, line, len);
            struct msg r = {1, pid, 0, m.tag};
            write(sock, &r, sizeof r);
        }
        if (p[1].revents) {
            struct signalfd_siginfo si; while (read(sfd, &si, sizeof si) > 0) {}
            int st; pid_t pid;
            while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
                char line[128]; int len = snprintf(line, sizeof line, "E %d exited %d\n", pid, WEXITSTATUS(st));
                write(logfd, line, len);
                struct msg r = {2, pid, st, 0};
                write(sock, &r, sizeof r);
            }
        }
    }
    _exit(0);
}

static double raw_rate(int jobs, int window) {
    char *argv[] = {"/bin/true", NULL};
    double t = now(); int started = 0, done = 0, running = 0;
    while (done < jobs) {
        while (running < window && started < jobs) { pid_t pid; posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ); started++; running++; }
        int st; waitpid(-1, &st, 0); running--; done++;
    }
    return jobs / (now() - t);
}

static double server_rate(int sock, int jobs, int window) {
    double t = now(); int started = 0, done = 0, running = 0;
    while (done < jobs) {
        while (running < window && started < jobs) {
            struct msg m = {0, 0, 0, started};
            write(sock, &m, sizeof m);
            /* the start report (SubmitJob returns once the job runs) */
            for (;;) { struct msg r; read(sock, &r, sizeof r); if (r.kind == 1) break; done++; running--; }
            started++; running++;
        }
        struct msg r; read(sock, &r, sizeof r);
        if (r.kind == 2) { done++; running--; }
    }
    return jobs / (now() - t);
}

int main(int argc, char **argv) {
    int jobs = argc > 1 ? atoi(argv[1]) : 2000;
    int sv[2]; socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
    if (fork() == 0) { close(sv[0]); server(sv[1], argc > 2 ? argv[2] : "/tmp/jobserver-records.log"); }
    close(sv[1]);
    raw_rate(50, 1); server_rate(sv[0], 50, 1);
    for (int w = 1; w <= 8; w *= 8) {
        double r = raw_rate(jobs, w), s = server_rate(sv[0], jobs, w);
        printf("%d in flight: raw %.0f jobs/s, job server %.0f jobs/s, ratio %.2f\n", w, r, s, s / r);
    }
    return 0;
}
