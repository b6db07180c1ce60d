/*
 * Threads sharing one context and one broker: each submits jobs (`/bin/sh -c "exit N"`), polls
 * their state and info concurrently, checks each exit code, and destroys what it made, while one
 * more thread reads the state of every job again and again. Run by tests/c_programs.rs.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gat.h>

#define THREADS 4
#define JOBS_PER_THREAD 5

static GATContext context;        /* shared by every thread */
static GATResourceBroker broker;  /* shared too: the broker is thread-safe */
static int failures;              /* protected by lock */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static GATJob jobs[THREADS][JOBS_PER_THREAD]; /* protected by lock */
static volatile int submitting_done;

static void failed(int thread, const char *what)
{
    char detail[1024];
    GAT_GetLastErrorMessage(detail, sizeof detail);
    pthread_mutex_lock(&lock);
    failures++;
    fprintf(stderr, "thread %d: %s failed: %s\n", thread, what, detail);
    pthread_mutex_unlock(&lock);
}

static GATJob submit(int thread, int exitcode)
{
    char script[64];
    GATTable attributes = GATTable_Create();
    GATList_String arguments = GATList_String_Create();
    GATSoftwareDescription sd = NULL;
    GATJobDescription jd = NULL;
    GATJob job = NULL;

    snprintf(script, sizeof script, "exit %d", exitcode);
    GATTable_Add_String(attributes, "location", "/bin/sh");
    GATList_String_Insert(arguments, GATList_String_End(arguments), "-c");
    GATList_String_Insert(arguments, GATList_String_End(arguments), script);
    GATTable_Add_GATObject(attributes, "arguments", GATList_String_ToGATObject_const(arguments));
    sd = GATSoftwareDescription_Create(attributes);
    if (sd == NULL)
        failed(thread, "GATSoftwareDescription_Create");
    else if ((jd = GATJobDescription_Create_Description(context, sd, NULL)) == NULL)
        failed(thread, "GATJobDescription_Create_Description");
    else if (GAT_FAILED(GATResourceBroker_SubmitJob(broker, jd, &job)))
        failed(thread, "GATResourceBroker_SubmitJob");
    GATJobDescription_Destroy(&jd);
    GATSoftwareDescription_Destroy(&sd);
    GATList_String_Destroy(&arguments);
    GATTable_Destroy(&attributes);
    return job;
}

/* Wait (at most 60 s) until the job stops, then check its exit code. */
static void wait_and_check(int thread, GATJob job, int expected)
{
    struct timespec tick = {0, 5 * 1000 * 1000};
    GATJobState state = GATJobState_Initial;
    GATTable_const info = NULL;
    GATint32 exitcode = -1;
    int polls;

    for (polls = 0; polls < 12000; polls++) {
        if (GAT_FAILED(GATJob_GetState(job, &state))) {
            failed(thread, "GATJob_GetState");
            return;
        }
        if (state == GATJobState_Stopped)
            break;
        nanosleep(&tick, NULL);
    }
    if (state != GATJobState_Stopped) {
        failed(thread, "waiting for Stopped");
        return;
    }
    if (GAT_FAILED(GATJob_GetInfo(job, &info))) {
        failed(thread, "GATJob_GetInfo");
        return;
    }
    if (GAT_FAILED(GATTable_Get_int32(info, "exitcode", &exitcode))) {
        failed(thread, "GATTable_Get_int32(exitcode)");
        return;
    }
    if (exitcode != expected) {
        pthread_mutex_lock(&lock);
        failures++;
        fprintf(stderr, "thread %d: exit code %d, expected %d\n", thread, (int)exitcode, expected);
        pthread_mutex_unlock(&lock);
    }
}

static void *worker(void *arg)
{
    int thread = *(int *)arg;
    int j;
    GATJob mine[JOBS_PER_THREAD];

    for (j = 0; j < JOBS_PER_THREAD; j++) {
        mine[j] = submit(thread, thread * 10 + j);
        pthread_mutex_lock(&lock);
        jobs[thread][j] = mine[j];
        pthread_mutex_unlock(&lock);
    }
    for (j = 0; j < JOBS_PER_THREAD; j++)
        if (mine[j] != NULL)
            wait_and_check(thread, mine[j], thread * 10 + j);
    return NULL;
}

/* Reads every job's state while the workers run: shared handles across threads. */
static void *watcher(void *arg)
{
    int rounds, t, j;
    (void)arg;
    for (rounds = 0; rounds < 2000 && !submitting_done; rounds++) {
        for (t = 0; t < THREADS; t++) {
            for (j = 0; j < JOBS_PER_THREAD; j++) {
                GATJobState state;
                GATJob job;
                pthread_mutex_lock(&lock);
                job = jobs[t][j];
                pthread_mutex_unlock(&lock);
                if (job != NULL && GAT_FAILED(GATJob_GetState(job, &state)))
                    failed(-1, "GATJob_GetState (watcher)");
            }
        }
    }
    return NULL;
}

int main(void)
{
    pthread_t workers[THREADS], watch;
    int ids[THREADS];
    int t, j;

    context = GATContext_Create();
    if (context == NULL) {
        failed(-1, "GATContext_Create");
        return EXIT_FAILURE;
    }
    broker = GATResourceBroker_Create(context, NULL, NULL);
    if (broker == NULL) {
        failed(-1, "GATResourceBroker_Create");
        GATContext_Destroy(&context);
        return EXIT_FAILURE;
    }
    if (pthread_create(&watch, NULL, watcher, NULL) != 0)
        return EXIT_FAILURE;
    for (t = 0; t < THREADS; t++) {
        ids[t] = t;
        if (pthread_create(&workers[t], NULL, worker, &ids[t]) != 0)
            return EXIT_FAILURE;
    }
    for (t = 0; t < THREADS; t++)
        pthread_join(workers[t], NULL);
    submitting_done = 1;
    pthread_join(watch, NULL);

    for (t = 0; t < THREADS; t++)
        for (j = 0; j < JOBS_PER_THREAD; j++)
            GATJob_Destroy(&jobs[t][j]);
    GATResourceBroker_Destroy(&broker);
    GATContext_Destroy(&context);
    printf("threads: %d jobs in %d threads, %d failures\n", THREADS * JOBS_PER_THREAD, THREADS, failures);
    return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
