/*
 * A GAT program exactly in the GridLab manual's style (its job-submit example): attribute tables,
 * a GATList_String of arguments appended with GATList_String_Insert(l, GATList_String_End(l), s),
 * descriptions, the broker with NULL preferences and VO, SubmitJob, a bounded wait for Stopped,
 * GetInfo and GetJobID, and Destroy of everything. Run by tests/c_programs.rs, also under
 * valgrind (no definite or indirect leak, no memory error).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gat.h>

#define EXPECTED_EXIT_CODE 7

static int fail(const char *what)
{
    char detail[1024];
    GAT_GetLastErrorMessage(detail, sizeof detail);
    fprintf(stderr, "manual_style: %s failed: %s\n", what, detail);
    return EXIT_FAILURE;
}

int main(void)
{
    GATResult rc = GAT_FAIL;
    GATContext context = NULL;
    GATTable sw_attributes = NULL;
    GATTable hw_attributes = NULL;
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
    const char *hostname = NULL;
    GATint32 exitcode = -1;
    const char *args[] = {"-c", "exit 7"};
    int i, status = EXIT_FAILURE;
    struct timespec tick = {0, 5 * 1000 * 1000};

    /* initialize the GAT engine: it is needed for every other call */
    context = GATContext_Create();
    if (context == NULL)
        return fail("GATContext_Create");

    /* the software description: what to run */
    sw_attributes = GATTable_Create();
    GATTable_Add_String(sw_attributes, "location", "/bin/sh");
    arguments = GATList_String_Create();
    for (i = 0; i < 2; i++)
        GATList_String_Insert(arguments, GATList_String_End(arguments), args[i]);
    GATTable_Add_GATObject(sw_attributes, "arguments", GATList_String_ToGATObject_const(arguments));
    sd = GATSoftwareDescription_Create(sw_attributes);
    if (sd == NULL) {
        fail("GATSoftwareDescription_Create");
        goto cleanup;
    }

    /* the hardware resource description: where to run it */
    hw_attributes = GATTable_Create();
    GATTable_Add_float(hw_attributes, "cpu.count", 1.0f);
    hwrd = GATHardwareResourceDescription_Create(hw_attributes);
    if (hwrd == NULL) {
        fail("GATHardwareResourceDescription_Create");
        goto cleanup;
    }
    rd = GATHardwareResourceDescription_ToGATResourceDescription(hwrd);

    jd = GATJobDescription_Create_Description(context, sd, rd);
    if (jd == NULL) {
        fail("GATJobDescription_Create_Description");
        goto cleanup;
    }

    broker = GATResourceBroker_Create(context, NULL, NULL);
    if (broker == NULL) {
        fail("GATResourceBroker_Create");
        goto cleanup;
    }

    rc = GATResourceBroker_SubmitJob(broker, jd, &job);
    if (GAT_FAILED(rc)) {
        fail("GATResourceBroker_SubmitJob");
        goto cleanup;
    }

    rc = GATJob_GetJobID(job, &jobid);
    if (GAT_FAILED(rc) || GATString_GetBuffer(jobid) == NULL) {
        fail("GATJob_GetJobID");
        goto cleanup;
    }
    printf("jobid %s\n", GATString_GetBuffer(jobid));

    /* wait for the job to finish, at most 60 s */
    for (i = 0; i < 12000; i++) {
        rc = GATJob_GetState(job, &state);
        if (GAT_FAILED(rc)) {
            fail("GATJob_GetState");
            goto cleanup;
        }
        if (state == GATJobState_Stopped)
            break;
        nanosleep(&tick, NULL);
    }
    if (state != GATJobState_Stopped) {
        fprintf(stderr, "manual_style: the job did not stop (state %d)\n", (int)state);
        goto cleanup;
    }

    rc = GATJob_GetInfo(job, &info);
    if (GAT_FAILED(rc)) {
        fail("GATJob_GetInfo");
        goto cleanup;
    }
    if (GAT_FAILED(GATTable_Get_String(info, "hostname", &hostname))) {
        fail("GATTable_Get_String(hostname)");
        goto cleanup;
    }
    if (GAT_FAILED(GATTable_Get_int32(info, "exitcode", &exitcode))) {
        fail("GATTable_Get_int32(exitcode)");
        goto cleanup;
    }
    printf("hostname %s\n", hostname);
    printf("exitcode %d\n", (int)exitcode);
    if (exitcode != EXPECTED_EXIT_CODE) {
        fprintf(stderr, "manual_style: exit code %d, expected %d\n", (int)exitcode, EXPECTED_EXIT_CODE);
        goto cleanup;
    }
    status = EXIT_SUCCESS;

cleanup:
    GATJob_Destroy(&job);
    GATResourceBroker_Destroy(&broker);
    GATJobDescription_Destroy(&jd);
    GATResourceDescription_Destroy(&rd);
    GATSoftwareDescription_Destroy(&sd);
    GATTable_Destroy(&hw_attributes);
    GATTable_Destroy(&sw_attributes);
    GATList_String_Destroy(&arguments);
    GATContext_Destroy(&context);
    if (job != NULL || broker != NULL || jd != NULL || rd != NULL || sd != NULL || context != NULL) {
        fprintf(stderr, "manual_style: a Destroy did not reset its handle to NULL\n");
        status = EXIT_FAILURE;
    }
    return status;
}
