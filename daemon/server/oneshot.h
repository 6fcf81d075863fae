/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One-shot modes, against any NBD server: "enbd-server read" copies a byte
 * range of an export to stdout, "enbd-server write" one from stdin.
 */
#ifndef ENBD_SERVER_ONESHOT_H
#define ENBD_SERVER_ONESHOT_H

/* @argv[0] is "read" or "write"; returns the exit status. */
int oneshot_main(int argc, char **argv);

#endif
