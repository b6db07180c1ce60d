/*
 * submit.c: submit one job on the local machine through the GAT job API, wait for it to end,
 * print its info table and its exit code.
 *
 * Written in the style of the GridLab GAT manual's job-submit example, so it shows the idioms a
 * GAT program uses: a context first, attribute tables that become descriptions, a resource
 * broker that chooses where to run, and Destroy(&handle) for everything created.
 *
 * Build and run (libgat installed where pkg-config finds it):
 *     cc -std=c99 submit.c $(pkg-config --cflags --libs gat) -o submit && ./submit
 * or, from the top of the source tree, `make demo`.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, getpid */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gat.h>

/* The job's exit code, checked at the end to show that it travels back through GetInfo. */
#define EXPECTED_EXIT_CODE 3

/* Print why the last GAT call failed: the result's static message plus the detailed text that
 * libgat keeps for the calling thread (which function, which adaptor or host, what the OS said). */
static void report(const char *what, GATResult rc)
{
    char detail[1024];
    GAT_GetLastErrorMessage(detail, sizeof detail);
    fprintf(stderr, "submit: %s failed: %s (code %d)\n  %s\n", what, GATResult_GetMessage(rc),
            GAT_RESULT_CODE(rc), detail);
}

/* Print one value of an info table, whatever its type. */
static void print_value(GATTable_const table, const char *key)
{
    const char *text = NULL;
    GATint64 integer = 0;
    GATdouble64 real = 0;
    GATObject_const object = NULL;

    if (GAT_SUCCEEDED(GATTable_Get_String(table, key, &text))) {
        printf("  %-22s %s\n", key, text);
    } else if (GAT_SUCCEEDED(GATTable_Get_int64(table, key, &integer))) {
        printf("  %-22s %lld\n", key, (long long)integer);
    } else if (GAT_SUCCEEDED(GATTable_Get_double(table, key, &real))) {
        printf("  %-22s %g\n", key, real);
    } else if (GAT_SUCCEEDED(GATTable_Get_GATObject(table, key, &object))) {
        /* Times (scheduletime, starttime, stoptime) are GATTime objects. */
        GATTime_const time = GATObject_ToGATTime_const(object);
        if (time != NULL)
            printf("  %-22s %.3f (seconds since the epoch)\n", key, GATTime_GetSeconds(time));
        else
            printf("  %-22s (an object of type %d)\n", key, (int)GATObject_GetType(object));
    }
}

/* Print every key of a table, in the order GATTable_GetKeys gives them. */
static void print_table(GATTable_const table)
{
    GATList_String keys = NULL;
    GATuint32 i;
    if (GAT_FAILED(GATTable_GetKeys(table, &keys)))
        return;
    for (i = 0; i < GATList_String_Size(keys); i++)
        print_value(table, GATList_String_Get(keys, i));
    GATList_String_Destroy(&keys); /* GetKeys hands us the list: we destroy it */
}

int main(void)
{
    GATResult rc = GAT_FAIL;
    GATContext context = NULL;
    GATTable sw_attributes = NULL, hw_attributes = NULL;
    GATList_String arguments = NULL;
    GATSoftwareDescription sd = NULL;
    GATHardwareResourceDescription hwrd = NULL;
    GATResourceDescription rd = NULL;
    GATJobDescription jd = NULL;
    GATResourceBroker broker = NULL;
    GATJob job = NULL;
    GATJobState state = GATJobState_Initial;
    GATTable_const info = NULL;
    GATJobID_const jobid = NULL;
    const char *hostname = "?";
    GATint32 exitcode = -1;
    char output_path[256];
    int polls, status = EXIT_FAILURE;
    struct timespec tick = {0, 10 * 1000 * 1000}; /* poll every 10 ms */

    /* 1. The context comes first: every other GAT call needs it. */
    context = GATContext_Create();
    if (context == NULL) {
        report("GATContext_Create", GAT_FAIL);
        return EXIT_FAILURE;
    }

    /* 2. What to run: a software description built from an attribute table. Arguments are a
     *    GATList_String; GATList_String_Insert at GATList_String_End appends. */
    arguments = GATList_String_Create();
    GATList_String_Insert(arguments, GATList_String_End(arguments), "-c");
    GATList_String_Insert(arguments, GATList_String_End(arguments),
                          "echo \"hello from a GAT job on $(hostname)\"; exit 3");

    snprintf(output_path, sizeof output_path, "/tmp/gat-submit-%ld.out", (long)getpid());

    sw_attributes = GATTable_Create();
    GATTable_Add_String(sw_attributes, "location", "/bin/sh");
    /* The table keeps its own copy of the list, so we may destroy ours right after. */
    GATTable_Add_GATObject(sw_attributes, "arguments", GATList_String_ToGATObject_const(arguments));
    GATTable_Add_String(sw_attributes, "stdout", output_path);
    sd = GATSoftwareDescription_Create(sw_attributes);
    if (sd == NULL) {
        report("GATSoftwareDescription_Create", GAT_FAIL);
        goto cleanup;
    }

    /* 3. Where to run it: a hardware description the broker matches against its resources.
     *    Numbers may be given as any numeric type; the manual's examples use floats. */
    hw_attributes = GATTable_Create();
    GATTable_Add_float(hw_attributes, "cpu.count", 1.0f);
    hwrd = GATHardwareResourceDescription_Create(hw_attributes);
    if (hwrd == NULL) {
        report("GATHardwareResourceDescription_Create", GAT_FAIL);
        goto cleanup;
    }
    /* Up-cast, as the manual does: a hardware resource description is a resource description. */
    rd = GATHardwareResourceDescription_ToGATResourceDescription(hwrd);

    /* 4. The job description ties the two together; the broker submits it. NULL preferences and
     *    NULL virtual organisation: libgat's defaults (the local machine unless configured). */
    jd = GATJobDescription_Create_Description(context, sd, rd);
    if (jd == NULL) {
        report("GATJobDescription_Create_Description", GAT_FAIL);
        goto cleanup;
    }
    broker = GATResourceBroker_Create(context, NULL, NULL);
    if (broker == NULL) {
        report("GATResourceBroker_Create", GAT_FAIL);
        goto cleanup;
    }
    rc = GATResourceBroker_SubmitJob(broker, jd, &job);
    if (GAT_FAILED(rc)) {
        report("GATResourceBroker_SubmitJob", rc);
        goto cleanup;
    }

    rc = GATJob_GetJobID(job, &jobid); /* owned by the job: never destroyed by us */
    if (GAT_SUCCEEDED(rc))
        printf("submitted job %s\n", GATString_GetBuffer(jobid));

    /* 5. Wait until the job has stopped, with a bound: 3000 polls of 10 ms, 30 s. GetState answers
     *    from state libgat keeps current, so polling it is cheap. */
    for (polls = 0; polls < 3000; polls++) {
        rc = GATJob_GetState(job, &state);
        if (GAT_FAILED(rc)) {
            report("GATJob_GetState", rc);
            goto cleanup;
        }
        if (state == GATJobState_Stopped)
            break;
        nanosleep(&tick, NULL);
    }
    if (state != GATJobState_Stopped) {
        fprintf(stderr, "submit: the job did not stop within 30 s (state %d)\n", (int)state);
        goto cleanup;
    }

    /* 6. The info table: hostname, times, exit code, why it stopped. It belongs to the job. */
    rc = GATJob_GetInfo(job, &info);
    if (GAT_FAILED(rc)) {
        report("GATJob_GetInfo", rc);
        goto cleanup;
    }
    printf("job info:\n");
    print_table(info);
    GATTable_Get_String(info, "hostname", &hostname);
    rc = GATTable_Get_int32(info, "exitcode", &exitcode);
    if (GAT_FAILED(rc)) {
        report("GATTable_Get_int32(exitcode)", rc);
        goto cleanup;
    }
    printf("the job ran on %s and exited with code %d\n", hostname, (int)exitcode);

    {
        /* What the job wrote to its stdout file. */
        char line[512];
        FILE *out = fopen(output_path, "r");
        if (out != NULL) {
            while (fgets(line, sizeof line, out) != NULL)
                printf("job output: %s", line);
            fclose(out);
        }
    }
    status = exitcode == EXPECTED_EXIT_CODE ? EXIT_SUCCESS : EXIT_FAILURE;

cleanup:
    /* 7. Destroy everything we created; Destroy accepts NULL handles, so no checks are needed.
     *    Destroying the job handle releases the handle only: a job still running would run on. */
    GATJob_Destroy(&job);
    GATResourceBroker_Destroy(&broker);
    GATJobDescription_Destroy(&jd);
    GATResourceDescription_Destroy(&rd);
    GATSoftwareDescription_Destroy(&sd);
    GATTable_Destroy(&hw_attributes);
    GATTable_Destroy(&sw_attributes);
    GATList_String_Destroy(&arguments);
    GATContext_Destroy(&context);
    remove(output_path);
    return status;
}
