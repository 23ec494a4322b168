/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* autostart.c: start the server detached (double fork through sh + setsid). */
#include "autostart.h"

#include <errno.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int asiojack_spawn_server(const char *log_path)
{
    /* sh backgrounds the server and exits at once, so the server is
     * reparented to init and never becomes a zombie of the host process. */
    static const char script[] =
        "cmd=\"${ASIOJACK_SERVER:-asiojack}\"; "
        "setsid $cmd serve --auto </dev/null >>\"$1\" 2>&1 &";
    char *argv[] = {"sh", "-c", (char *)script, "sh", (char *)log_path, NULL};
    pid_t pid;
    int status;

    if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) != 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            break; /* e.g. SIGCHLD ignored by the host: nothing to reap */
    }
    return 0;
}
