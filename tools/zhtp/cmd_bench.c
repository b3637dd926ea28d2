/* Placeholder: this subcommand is being written. */
#include <stdio.h>

#include "cmds.h"

int cmd_bench(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "zhtp %s: not available yet\n", argv[0]);
    return ZHTP_EXIT_FAIL;
}
