/*
 * Support for the generated tests/c bad_input program (tests/c_programs.rs writes bad_input.c
 * from include/gat.h at test time, so every exported function is covered automatically).
 *
 * Every exported function is called with NULL pointers, with a live handle of the wrong class and
 * with a destroyed handle; each call must fail the documented way (a failed GATResult, NULL,
 * GATType_Unknown or 0), leave its out-parameters untouched, and leave a last-error text that
 * names the function. Destroy(NULL), Destroy(&null_handle), Destroy of a wrong-class handle and
 * Destroy of a destroyed handle must not crash (and the wrong-class object must stay alive).
 */
#ifndef BAD_INPUT_SUPPORT_H
#define BAD_INPUT_SUPPORT_H

#include <stdio.h>
#include <string.h>

#include <gat.h>

static int checks;
static int failures;

#define CHECK(cond, function, what)                                                           \
    do {                                                                                      \
        checks++;                                                                             \
        if (!(cond)) {                                                                        \
            failures++;                                                                       \
            fprintf(stderr, "FAIL %s (%s): %s\n", (function), (what), #cond);                 \
        }                                                                                     \
    } while (0)

/* The last-error text must name the function that failed: "Function: what was wrong". */
static void check_last_error_names(const char *function, const char *what)
{
    char text[2048];
    char prefix[256];
    size_t full = GAT_GetLastErrorMessage(text, sizeof text);
    snprintf(prefix, sizeof prefix, "%s:", function);
    checks++;
    if (full == 0 || strstr(text, prefix) == NULL) {
        failures++;
        fprintf(stderr, "FAIL %s (%s): the last-error text does not name it: \"%s\"\n", function,
                what, text);
    }
}

/* Make some other function the last one to fail, so that a text naming `function` afterwards
 * can only come from the call under test. */
static void reset_last_error(const char *function)
{
    if (strcmp(function, "GATObject_GetType") != 0)
        (void)GATObject_GetType(NULL);
    else
        (void)GATTable_Size(NULL);
}

/* Out-parameter storage: filled with a pattern that a failing call must leave alone. */
typedef union {
    void *pointer;
    GATint64 integer;
    GATdouble64 real;
    unsigned char bytes[64];
} out_slot;

#define OUT_PATTERN 0xA5

static void out_fill(out_slot *slot)
{
    memset(slot, OUT_PATTERN, sizeof *slot);
}

static int out_untouched(const out_slot *slot)
{
    size_t i;
    for (i = 0; i < sizeof slot->bytes; i++)
        if (slot->bytes[i] != OUT_PATTERN)
            return 0;
    return 1;
}

#endif /* BAD_INPUT_SUPPORT_H */
