/* migrate.c: libgat's main job, in the GAT manual's style.
 *
 * Submits an instrumented counting "simulation" (examples/counter.c), lets it count, takes a
 * checkpoint, then migrates it with a NULL hardware resource (libgat chooses where), and shows
 * that the migrated job resumes from its checkpoint and finishes the count: no work is lost.
 *
 * usage: migrate COUNTER_PROGRAM [TARGET] [STEP_MS]
 * With a resource configuration ($GAT_CONFIG) naming two local resources (each with its own
 * work area), the job moves from one to the other; `make demo` sets this up.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gat.h>

static void fail(const char *what, GATResult rc) {
    char msg[1024];
    GAT_GetLastErrorMessage(msg, sizeof msg);
    fprintf(stderr, "migrate: %s failed: %s\n  %s\n", what, GATResult_GetMessage(rc), msg);
    exit(1);
}

static void sleep_ms(long ms) {
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
}

/* Print every key of a job's info table, whatever its type. */
static void print_info(const char *title, GATJob job) {
    GATTable_const info = NULL;
    GATList_String keys = NULL;
    GATuint32 i;
    GATResult rc = GATJob_GetInfo(job, &info);
    if (GAT_FAILED(rc)) fail("GATJob_GetInfo", rc);
    rc = GATTable_GetKeys(info, &keys);
    if (GAT_FAILED(rc)) fail("GATTable_GetKeys", rc);
    printf("%s\n", title);
    for (i = 0; i < GATList_String_Size(keys); i++) {
        const char *key = GATList_String_Get(keys, i);
        const char *text = NULL;
        GATint64 number = 0;
        GATObject_const object = NULL;
        if (GAT_SUCCEEDED(GATTable_Get_String(info, key, &text))) {
            printf("  %-22s %s\n", key, text);
        } else if (GAT_SUCCEEDED(GATTable_Get_int64(info, key, &number))) {
            printf("  %-22s %lld\n", key, (long long)number);
        } else if (GAT_SUCCEEDED(GATTable_Get_GATObject(info, key, &object))) {
            GATTime_const t = GATObject_ToGATTime_const(object);
            if (t != NULL) {
                printf("  %-22s %.3f (seconds since the epoch)\n", key, GATTime_GetSeconds(t));
            }
        }
    }
    GATList_String_Destroy(&keys);
}

static GATJobState wait_while_running(GATJob job, long limit_ms) {
    GATJobState state = GATJobState_Running;
    long waited = 0;
    while (waited < limit_ms) {
        GATResult rc = GATJob_GetState(job, &state);
        if (GAT_FAILED(rc)) fail("GATJob_GetState", rc);
        if (state != GATJobState_Running && state != GATJobState_Scheduled) break;
        sleep_ms(50);
        waited += 50;
    }
    return state;
}

int main(int argc, char **argv) {
    const char *program = argc > 1 ? argv[1] : "./counter";
    const char *target = argc > 2 ? argv[2] : "400";
    const char *step = argc > 3 ? argv[3] : "10";
    char output[4096], cwd[3000], line[256];
    GATContext context;
    GATResourceBroker broker;
    GATTable sd_table;
    GATList_String arguments;
    GATSoftwareDescription sd;
    GATJobDescription jd;
    GATJob job = NULL, moved = NULL;
    GATJobID_const id = NULL;
    GATResult rc;
    FILE *out;
    long checkpointed = -1, resumed = -1, done = -1;

    if (getcwd(cwd, sizeof cwd) == NULL) return 1;
    snprintf(output, sizeof output, "%s/counter.out", cwd);
    remove(output);

    context = GATContext_Create();
    broker = GATResourceBroker_Create(context, NULL, NULL);
    if (context == NULL || broker == NULL) fail("creating the context and broker", GAT_FAIL);

    /* The software description: what to run, and that it follows the checkpoint protocol. */
    sd_table = GATTable_Create();
    arguments = GATList_String_Create();
    GATTable_Add_String(sd_table, "location", program);
    GATList_String_Insert(arguments, GATList_String_End(arguments), target);
    GATList_String_Insert(arguments, GATList_String_End(arguments), step);
    GATTable_Add_GATObject(sd_table, "arguments", GATList_String_ToGATObject_const(arguments));
    GATTable_Add_String(sd_table, "stdout", output); /* both runs append here */
    GATTable_Add_int16(sd_table, "checkpointable", 1);
    sd = GATSoftwareDescription_Create(sd_table);
    if (sd == NULL) fail("GATSoftwareDescription_Create", GAT_FAIL);
    jd = GATJobDescription_Create(context, sd, NULL); /* NULL resource: the broker chooses */

    rc = GATResourceBroker_SubmitJob(broker, jd, &job);
    if (GAT_FAILED(rc)) fail("GATResourceBroker_SubmitJob", rc);
    GATJob_GetJobID(job, &id);
    printf("submitted job %s\n", GATString_GetBuffer(id));

    sleep_ms(1000); /* let it count */
    rc = GATJob_Checkpoint(job);
    if (GAT_FAILED(rc)) fail("GATJob_Checkpoint", rc);
    print_info("after GATJob_Checkpoint (the job runs on):", job);

    sleep_ms(500);
    rc = GATJob_Migrate(job, NULL, &moved); /* NULL: libgat chooses the new resource */
    if (GAT_FAILED(rc)) fail("GATJob_Migrate", rc);
    print_info("the original, after GATJob_Migrate:", job);
    print_info("the migrated job:", moved);

    if (wait_while_running(moved, 120000) != GATJobState_Stopped) fail("waiting for the migrated job", GAT_TIMEOUT);
    print_info("the migrated job, finished:", moved);

    /* The output of both runs: the second "start" is where the migrated job resumed. */
    out = fopen(output, "r");
    if (out == NULL) fail("reading the job's output", GAT_FILE_OPEN_ERROR);
    printf("the job's output (%s):\n", output);
    while (fgets(line, sizeof line, out) != NULL) {
        long n;
        if (sscanf(line, "checkpoint %ld", &n) == 1) checkpointed = n;
        if (sscanf(line, "start %ld", &n) == 1) resumed = n;
        if (sscanf(line, "done %ld", &n) == 1) done = n;
        if (strncmp(line, "checkpoint", 10) == 0 || strncmp(line, "start", 5) == 0 || strncmp(line, "done", 4) == 0) {
            printf("  %s", line);
        }
    }
    fclose(out);

    GATJob_Destroy(&moved);
    GATJob_Destroy(&job);
    GATJobDescription_Destroy(&jd);
    GATSoftwareDescription_Destroy(&sd);
    GATList_String_Destroy(&arguments);
    GATTable_Destroy(&sd_table);
    GATResourceBroker_Destroy(&broker);
    GATContext_Destroy(&context);

    if (done != atol(target) || resumed < checkpointed || resumed <= 0) {
        fprintf(stderr, "migrate: the count did not continue (checkpoint %ld, resumed %ld, done %ld)\n",
                checkpointed, resumed, done);
        return 1;
    }
    printf("the count went on: checkpointed at %ld or later, resumed at %ld, finished at %ld\n",
           checkpointed, resumed, done);
    return 0;
}
