/* counter: a small instrumented "simulation" for libgat's checkpoint and migration.
 *
 * It counts from 0 (or from where a checkpoint left off) to a target, one step every few
 * milliseconds; its whole state is the count. It follows the instrumented-job protocol of
 * c-api.md section 7 through libgat's GATSelf_* helpers:
 *   - on a restart, GATSelf_RestartFile() names the state to resume from;
 *   - when libgat asks for a checkpoint (the checkpoint signal), GATSelf_CheckpointRequested()
 *     turns true; the program writes its count to GATSelf_CheckpointFile() and calls
 *     GATSelf_CheckpointDone(), then goes on counting.
 * For programs that cannot link libgat, see examples/counter.sh (shell) and
 * docs/instrumenting.md.
 *
 * usage: counter TARGET [STEP_MS]     prints "start N", progress, and "done N (resumed from M)"
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gat.h>

static long read_count(const char *path) {
    FILE *f = fopen(path, "r");
    long n = -1;
    if (f == NULL) {
        return -1;
    }
    if (fscanf(f, "%ld", &n) != 1) {
        n = -1;
    }
    fclose(f);
    return n;
}

static int write_count(const char *path, long count) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f, "%ld\n", count);
    return fclose(f);
}

int main(int argc, char **argv) {
    long target = argc > 1 ? atol(argv[1]) : 1000;
    long step_ms = argc > 2 ? atol(argv[2]) : 5;
    long count = 0, resumed_from = -1;
    struct timespec step;

    if (GATSelf_IsRestart()) {
        resumed_from = read_count(GATSelf_RestartFile());
        if (resumed_from < 0) {
            fprintf(stderr, "counter: cannot read restart state %s\n", GATSelf_RestartFile());
            return 2;
        }
    }
    if (resumed_from > 0) {
        count = resumed_from;
    }
    printf("start %ld\n", count);
    fflush(stdout);

    step.tv_sec = step_ms / 1000;
    step.tv_nsec = (step_ms % 1000) * 1000000L;
    while (count < target) {
        nanosleep(&step, NULL);
        count++;
        if (GATSelf_CheckpointRequested()) {
            if (write_count(GATSelf_CheckpointFile(), count) != 0 || GAT_FAILED(GATSelf_CheckpointDone())) {
                char msg[512];
                GAT_GetLastErrorMessage(msg, sizeof msg);
                fprintf(stderr, "counter: checkpoint failed: %s\n", msg);
            } else {
                printf("checkpoint %ld\n", count);
                fflush(stdout);
            }
        }
    }
    printf("done %ld (resumed from %ld)\n", count, resumed_from);
    return 0;
}
