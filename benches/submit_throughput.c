/*
 * submit_throughput.c: what libgat's job path costs on the local machine.
 *
 * (a) submit-to-exit throughput of /bin/true through the C API (SubmitJob, GetState until
 *     Stopped, Destroy), against a raw posix_spawn + waitpid loop in the same run; the ratio
 *     gat/raw is the figure (target >= 0.8). One job at a time, then with 8 in flight on both
 *     sides.
 * (b) the cost of one GATJob_GetState and one GATJob_GetInfo on a running job (`sleep 30`), in ns
 *     per call (targets < 2 us).
 *
 * Usage: submit_throughput [jobs=200] [getstate_calls=1000000] [getinfo_calls=100000] [host_mib=0]
 * host_mib: memory the program touches and holds before it starts, as a large host program
 * (a simulation) would: a fork-based job start pays for it, a shared-memory one does not.
 * Run through `cargo bench --bench submit` (or `make bench`), which builds it against the release
 * library and gives it a fresh GAT_STATE_DIR.
 */
#define _POSIX_C_SOURCE 200809L

#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gat.h>

extern char **environ;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    char detail[1024];
    GAT_GetLastErrorMessage(detail, sizeof detail);
    fprintf(stderr, "submit_throughput: %s failed: %s\n", what, detail);
    exit(EXIT_FAILURE);
}

/* The baseline: what spawning and reaping /bin/true costs without libgat. */
static double raw_spawn_rate(int jobs)
{
    char *argv[] = {"/bin/true", NULL};
    double start = now();
    int i;
    for (i = 0; i < jobs; i++) {
        pid_t pid;
        int status;
        if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0) {
            perror("posix_spawn");
            exit(EXIT_FAILURE);
        }
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "submit_throughput: /bin/true failed\n");
            exit(EXIT_FAILURE);
        }
    }
    return jobs / (now() - start);
}

/* The same with up to `window` jobs in flight: spawn until `window` run, then reap one (any),
 * spawn the next. */
static double raw_window_rate(int jobs, int window)
{
    char *argv[] = {"/bin/true", NULL};
    double start = now();
    int started = 0, done = 0, running = 0;
    while (done < jobs) {
        int status;
        pid_t pid;
        while (running < window && started < jobs) {
            if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0) {
                perror("posix_spawn");
                exit(EXIT_FAILURE);
            }
            started++;
            running++;
        }
        pid = waitpid(-1, &status, 0);
        if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "submit_throughput: /bin/true failed\n");
            exit(EXIT_FAILURE);
        }
        running--;
        done++;
    }
    return jobs / (now() - start);
}

static GATJobDescription describe(GATContext context, const char *location, const char *argument)
{
    GATTable attributes = GATTable_Create();
    GATList_String arguments = GATList_String_Create();
    GATSoftwareDescription sd;
    GATJobDescription jd;
    GATTable_Add_String(attributes, "location", location);
    if (argument != NULL) {
        GATList_String_Insert(arguments, GATList_String_End(arguments), argument);
        GATTable_Add_GATObject(attributes, "arguments", GATList_String_ToGATObject_const(arguments));
    }
    sd = GATSoftwareDescription_Create(attributes);
    if (sd == NULL)
        die("GATSoftwareDescription_Create");
    jd = GATJobDescription_Create_Description(context, sd, NULL);
    if (jd == NULL)
        die("GATJobDescription_Create_Description");
    GATSoftwareDescription_Destroy(&sd);
    GATList_String_Destroy(&arguments);
    GATTable_Destroy(&attributes);
    return jd;
}

/* Spin on GetState (it is cheap) until the job reaches `wanted`, at most `seconds`. */
static void wait_for(GATJob job, GATJobState wanted, double seconds)
{
    double deadline = now() + seconds;
    GATJobState state = GATJobState_Initial;
    while (now() < deadline) {
        if (GAT_FAILED(GATJob_GetState(job, &state)))
            die("GATJob_GetState");
        if (state == wanted)
            return;
        sched_yield();
    }
    fprintf(stderr, "submit_throughput: state %d not reached within %.0f s (now %d)\n", (int)wanted,
            seconds, (int)state);
    exit(EXIT_FAILURE);
}

/* Where the time of one job goes: inside SubmitJob, and from its return until Stopped is seen. */
static double submit_seconds, wait_seconds;

static double gat_submit_rate(GATResourceBroker broker, GATJobDescription jd, int jobs)
{
    double start = now();
    int i;
    submit_seconds = wait_seconds = 0;
    for (i = 0; i < jobs; i++) {
        GATJob job = NULL;
        double before = now(), submitted;
        if (GAT_FAILED(GATResourceBroker_SubmitJob(broker, jd, &job)))
            die("GATResourceBroker_SubmitJob");
        submitted = now();
        wait_for(job, GATJobState_Stopped, 30);
        submit_seconds += submitted - before;
        wait_seconds += now() - submitted;
        GATJob_Destroy(&job);
    }
    return jobs / (now() - start);
}

/* One job at a time, as above, but the program sleeps in GATJob_WaitForState (as the raw loop
 * sleeps in waitpid) instead of spinning on GetState. */
static double gat_submit_wait_rate(GATResourceBroker broker, GATJobDescription jd, int jobs)
{
    double start = now();
    int i;
    for (i = 0; i < jobs; i++) {
        GATJob job = NULL;
        GATJobState state = GATJobState_Initial;
        if (GAT_FAILED(GATResourceBroker_SubmitJob(broker, jd, &job)))
            die("GATResourceBroker_SubmitJob");
        if (GAT_FAILED(GATJob_WaitForState(job, GATJobState_Stopped, 30, &state)))
            die("GATJob_WaitForState");
        if (state != GATJobState_Stopped) {
            fprintf(stderr, "submit_throughput: the wait ended in state %d\n", (int)state);
            exit(EXIT_FAILURE);
        }
        GATJob_Destroy(&job);
    }
    return jobs / (now() - start);
}

/* Up to `window` jobs in flight through the C API: submit until `window` are unfinished, then
 * look at each (GetState) and replace the stopped ones; a pass that finds none stopped sleeps
 * 50 us, as a program polling several jobs would, rather than spin while the jobs need the CPUs
 * (the raw side blocks in waitpid). */
static double gat_window_rate(GATResourceBroker broker, GATJobDescription jd, int jobs, int window)
{
    GATJob flight[64] = {NULL};
    double start = now();
    int started = 0, done = 0, i;
    if (window > 64)
        window = 64;
    while (done < jobs) {
        int progressed = 0;
        for (i = 0; i < window; i++) {
            GATJobState state = GATJobState_Initial;
            if (flight[i] == NULL) {
                if (started == jobs)
                    continue;
                if (GAT_FAILED(GATResourceBroker_SubmitJob(broker, jd, &flight[i])))
                    die("GATResourceBroker_SubmitJob");
                started++;
                continue;
            }
            if (GAT_FAILED(GATJob_GetState(flight[i], &state)))
                die("GATJob_GetState");
            if (state == GATJobState_Stopped) {
                GATJob_Destroy(&flight[i]);
                done++;
                progressed = 1;
            }
        }
        if (!progressed) {
            struct timespec pause = {0, 50000};
            nanosleep(&pause, NULL);
        }
    }
    return jobs / (now() - start);
}

/* Up to `window` jobs in flight, the program sleeping in GATJob_WaitForState on the oldest
 * (jobs of equal length end about in order), as the raw side sleeps in waitpid. */
static double gat_window_wait_rate(GATResourceBroker broker, GATJobDescription jd, int jobs, int window)
{
    GATJob flight[64] = {NULL};
    double start = now();
    int started = 0, done = 0, oldest = 0;
    if (window > 64)
        window = 64;
    while (done < jobs) {
        GATJobState state = GATJobState_Initial;
        while (started - done < window && started < jobs) {
            if (GAT_FAILED(GATResourceBroker_SubmitJob(broker, jd, &flight[started % window])))
                die("GATResourceBroker_SubmitJob");
            started++;
        }
        oldest = done % window;
        if (GAT_FAILED(GATJob_WaitForState(flight[oldest], GATJobState_Stopped, 30, &state)))
            die("GATJob_WaitForState");
        if (state != GATJobState_Stopped) {
            fprintf(stderr, "submit_throughput: the wait ended in state %d\n", (int)state);
            exit(EXIT_FAILURE);
        }
        GATJob_Destroy(&flight[oldest]);
        done++;
    }
    return jobs / (now() - start);
}

int main(int argc, char **argv)
{
    int jobs = argc > 1 ? atoi(argv[1]) : 200;
    long state_calls = argc > 2 ? atol(argv[2]) : 1000000;
    long info_calls = argc > 3 ? atol(argv[3]) : 100000;
    long host_mib = argc > 4 ? atol(argv[4]) : 0;
    char *held = NULL;
    GATContext context = GATContext_Create();
    GATResourceBroker broker;
    GATJobDescription true_jd, sleep_jd;
    GATJob sleeper = NULL;
    GATJobState state;
    GATTable_const info;
    double raw, gat, start, state_ns, info_ns;
    long i;

    if (host_mib > 0) {
        size_t size = (size_t)host_mib << 20, at;
        held = malloc(size);
        if (held == NULL) {
            fprintf(stderr, "submit_throughput: cannot hold %ld MiB\n", host_mib);
            return EXIT_FAILURE;
        }
        for (at = 0; at < size; at += 4096)
            held[at] = 1;
        printf("holding %ld MiB of touched memory\n", host_mib);
    }
    if (context == NULL)
        die("GATContext_Create");
    broker = GATResourceBroker_Create(context, NULL, NULL);
    if (broker == NULL)
        die("GATResourceBroker_Create");
    true_jd = describe(context, "/bin/true", NULL);
    sleep_jd = describe(context, "/bin/sleep", "30");

    /* Warm up both paths (engine start, journal, page cache), then measure them alternately. */
    raw_spawn_rate(10);
    gat_submit_rate(broker, true_jd, 10);
    raw = raw_spawn_rate(jobs);
    gat = gat_submit_rate(broker, true_jd, jobs);
    printf("submit /bin/true: raw posix_spawn+waitpid %.0f jobs/s, libgat %.0f jobs/s, ratio %.2f (target >= 0.80)\n",
           raw, gat, gat / raw);
    printf("  libgat per job: %.0f us in SubmitJob, %.0f us from its return until Stopped (raw: %.0f us per job)\n",
           submit_seconds / jobs * 1e6, wait_seconds / jobs * 1e6, 1e6 / raw);
    raw = raw_spawn_rate(jobs);
    gat = gat_submit_wait_rate(broker, true_jd, jobs);
    printf("submit /bin/true, waiting in GATJob_WaitForState: raw posix_spawn+waitpid %.0f jobs/s, libgat %.0f "
           "jobs/s, ratio %.2f (target >= 0.80)\n",
           raw, gat, gat / raw);
    raw = raw_window_rate(jobs, 8);
    gat = gat_window_rate(broker, true_jd, jobs, 8);
    printf("submit /bin/true, 8 in flight: raw posix_spawn+waitpid %.0f jobs/s, libgat %.0f jobs/s, ratio %.2f\n", raw,
           gat, gat / raw);
    raw = raw_window_rate(jobs, 8);
    gat = gat_window_wait_rate(broker, true_jd, jobs, 8);
    printf("submit /bin/true, 8 in flight, waiting in GATJob_WaitForState on the oldest: raw posix_spawn+waitpid %.0f "
           "jobs/s, libgat %.0f jobs/s, ratio %.2f\n",
           raw, gat, gat / raw);

    if (GAT_FAILED(GATResourceBroker_SubmitJob(broker, sleep_jd, &sleeper)))
        die("GATResourceBroker_SubmitJob(sleep 30)");
    wait_for(sleeper, GATJobState_Running, 30);
    start = now();
    for (i = 0; i < state_calls; i++)
        if (GAT_FAILED(GATJob_GetState(sleeper, &state)))
            die("GATJob_GetState");
    state_ns = (now() - start) * 1e9 / (double)state_calls;
    start = now();
    for (i = 0; i < info_calls; i++)
        if (GAT_FAILED(GATJob_GetInfo(sleeper, &info)))
            die("GATJob_GetInfo");
    info_ns = (now() - start) * 1e9 / (double)info_calls;
    printf("GATJob_GetState on a running job: %.0f ns/call over %ld calls (target < 2000)\n", state_ns,
           state_calls);
    printf("GATJob_GetInfo on a running job: %.0f ns/call over %ld calls (target < 2000)\n", info_ns,
           info_calls);

    if (GAT_FAILED(GATJob_Stop(sleeper)))
        die("GATJob_Stop");
    wait_for(sleeper, GATJobState_Stopped, 30);
    GATJob_Destroy(&sleeper);
    GATJobDescription_Destroy(&sleep_jd);
    GATJobDescription_Destroy(&true_jd);
    GATResourceBroker_Destroy(&broker);
    GATContext_Destroy(&context);
    free(held);
    return EXIT_SUCCESS;
}
