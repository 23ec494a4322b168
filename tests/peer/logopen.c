/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * logopen.c: opens a log in the runtime directory the way the driver's
 * control panel does (asiojack_open_runtime_log), appends one line, and
 * prints what happened as one JSON line.
 *
 *   logopen NAME LINE
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

int main(int argc, char **argv)
{
    char error[ASIOJACK_TEXT_LEN] = "";
    if (argc != 3) {
        fprintf(stderr, "usage: logopen NAME LINE\n");
        return 2;
    }
    int fd = asiojack_open_runtime_log(argv[1], error, sizeof(error));
    if (fd < 0) {
        printf("{\"error\": \"%s\"}\n", error);
        return 1;
    }
    ssize_t n = write(fd, argv[2], strlen(argv[2]));
    close(fd);
    printf("{\"written\": %zd}\n", n);
    return 0;
}
