/*
 * GATJob_WaitForState (ext): a wait for Running, a wait that times out, a wait without limit
 * that sleeps until the job ends, a wait ended by another thread's GATJob_Stop, and the
 * arguments it refuses. Run by tests/c_programs.rs (every_other_c_program_runs).
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gat.h>

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        char detail[1024];
        GAT_GetLastErrorMessage(detail, sizeof detail);
        fprintf(stderr, "wait: %s (last error: %s)\n", what, detail);
        failures++;
    }
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static GATJob submit_sleep(GATContext context, GATResourceBroker broker, const char *seconds)
{
    GATTable attributes = GATTable_Create();
    GATList_String arguments = GATList_String_Create();
    GATSoftwareDescription sd;
    GATJobDescription jd = NULL;
    GATJob job = NULL;

    GATTable_Add_String(attributes, "location", "/bin/sleep");
    GATList_String_Insert(arguments, GATList_String_End(arguments), seconds);
    GATTable_Add_GATObject(attributes, "arguments", GATList_String_ToGATObject_const(arguments));
    sd = GATSoftwareDescription_Create(attributes);
    check(sd != NULL, "GATSoftwareDescription_Create");
    if (sd != NULL)
        jd = GATJobDescription_Create_Description(context, sd, NULL);
    check(jd != NULL, "GATJobDescription_Create_Description");
    if (jd != NULL)
        check(GAT_SUCCEEDED(GATResourceBroker_SubmitJob(broker, jd, &job)), "SubmitJob");
    GATJobDescription_Destroy(&jd);
    GATSoftwareDescription_Destroy(&sd);
    GATList_String_Destroy(&arguments);
    GATTable_Destroy(&attributes);
    return job;
}

static void *stop_later(void *arg)
{
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    check(GAT_SUCCEEDED(GATJob_Stop(*(GATJob *)arg)), "GATJob_Stop from another thread");
    return NULL;
}

int main(void)
{
    GATContext context = GATContext_Create();
    GATResourceBroker broker = GATResourceBroker_Create(context, NULL, NULL);
    GATJob job, sleeper;
    GATJobState state = GATJobState_Unknown;
    GATResult rc;
    pthread_t stopper;
    double start, waited;
    char detail[1024];

    check(context != NULL && broker != NULL, "creating the context and broker");
    if (broker == NULL)
        return EXIT_FAILURE;

    job = submit_sleep(context, broker, "0.5");
    if (job == NULL)
        return EXIT_FAILURE;
    check(GAT_SUCCEEDED(GATJob_WaitForState(job, GATJobState_Running, 10, &state)), "waiting for Running");
    check(state == GATJobState_Running, "the wait for Running ends Running");

    /* Not Stopped within 50 ms: GAT_TIMEOUT, *reached untouched, a text that says so. */
    state = GATJobState_Unknown;
    rc = GATJob_WaitForState(job, GATJobState_Stopped, 0.05, &state);
    check(rc == GAT_TIMEOUT, "a wait shorter than the job times out");
    check(state == GATJobState_Unknown, "a wait that timed out leaves *reached alone");
    GAT_GetLastErrorMessage(detail, sizeof detail);
    check(strstr(detail, "did not reach stopped") != NULL, "the timeout's text says what was not reached");

    /* No limit: it sleeps until the job ends, about 0.5 s after the start. */
    start = now();
    check(GAT_SUCCEEDED(GATJob_WaitForState(job, GATJobState_Stopped, -1, &state)), "waiting without limit");
    waited = now() - start;
    check(state == GATJobState_Stopped, "the wait for Stopped ends Stopped");
    check(waited > 0.2 && waited < 10, "the wait lasted until the job ended");
    /* A Stopped job ends every wait at once: it cannot be Running again. */
    check(GAT_SUCCEEDED(GATJob_WaitForState(job, GATJobState_Running, 0, &state)), "waiting for Running after the end");
    check(state == GATJobState_Stopped, "Stopped is past Running");

    /* Another thread stops a long job while this one waits. */
    sleeper = submit_sleep(context, broker, "30");
    if (sleeper != NULL && pthread_create(&stopper, NULL, stop_later, &sleeper) == 0) {
        start = now();
        check(GAT_SUCCEEDED(GATJob_WaitForState(sleeper, GATJobState_Stopped, 20, &state)), "waiting for a Stop");
        check(state == GATJobState_Stopped && now() - start < 10, "the Stop ended the wait");
        pthread_join(stopper, NULL);
    } else {
        check(0, "starting the stopping thread");
    }

    /* What it refuses. */
    rc = GATJob_WaitForState(job, 9, 1, &state);
    check(rc == GAT_INVALID_PARAMETER, "a state that is no GATJobState is refused");
    rc = GATJob_WaitForState(job, GATJobState_Stopped, NAN, &state);
    check(rc == GAT_INVALID_PARAMETER, "a NaN timeout is refused");
    rc = GATJob_WaitForState(job, GATJobState_Stopped, 1, NULL);
    check(GAT_FAILED(rc), "a NULL out-parameter is refused");
    rc = GATJob_WaitForState(NULL, GATJobState_Stopped, 1, &state);
    check(rc == GAT_INVALID_HANDLE, "a NULL job is refused");

    GATJob_Destroy(&sleeper);
    GATJob_Destroy(&job);
    GATResourceBroker_Destroy(&broker);
    GATContext_Destroy(&context);
    if (failures > 0)
        return EXIT_FAILURE;
    printf("wait: all checks passed\n");
    return EXIT_SUCCESS;
}
