/* run.h - the `mixc run` and `mixc compile` commands (tools/run.c), wired into
 * the driver's main in tools/mixc.c.
 *
 * Both take the arguments after the command name, as cmd_dump does
 * (argv[0] is the first argument, e.g. the MODEL), and return the process
 * exit code: 0 ok, 1 bad input, 2 usage, 3 internal error.
 *
 * Requires: libmixc (api/, backend/, runtime/). */
#ifndef MIXC_TOOLS_RUN_H
#define MIXC_TOOLS_RUN_H

int cmd_run(int argc, char **argv);
int cmd_compile(int argc, char **argv);

#endif
