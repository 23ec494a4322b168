/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* autostart.c: start the server detached (double fork through sh + setsid). */
#include "autostart.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

pid_t asiojack_spawn_server(int log_fd)
{
    /* sh backgrounds the server and exits at once, so the server is
     * reparented to init and never becomes a zombie of the host process.
     * It prints the server's pid, so a server that dies at once (not
     * installed, broken configuration) is noticed without waiting.  It
     * runs from / like any daemon: the host's directory is none of its
     * business (and a source tree there could shadow the installed code). */
    static const char script[] =
        "cmd=\"${ASIOJACK_SERVER:-asiojack}\"; cd / && "
        "setsid $cmd serve --auto </dev/null >&3 2>&3 3>&- & echo $!";
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    posix_spawn_file_actions_t actions;
    int fds[2], status;
    pid_t sh_pid, server = -1;
    char buf[32];
    ssize_t n, got = 0;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    /* The log as fd 3 of sh (dup2 clears close-on-exec), for the server's
     * output only. */
    posix_spawn_file_actions_adddup2(&actions, log_fd, 3);
    int r = posix_spawn(&sh_pid, "/bin/sh", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (r != 0) {
        close(fds[0]);
        return -1;
    }
    while (got < (ssize_t)sizeof(buf) - 1 &&
           ((n = read(fds[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0 ||
            (n < 0 && errno == EINTR)))
        if (n > 0)
            got += n;
    close(fds[0]);
    buf[got > 0 ? got : 0] = 0;
    if (got > 0)
        server = (pid_t)strtol(buf, NULL, 10);
    while (waitpid(sh_pid, &status, 0) < 0) {
        if (errno != EINTR)
            break; /* e.g. SIGCHLD ignored by the host: nothing to reap */
    }
    return server > 0 ? server : 0;
}

int asiojack_process_alive(pid_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}
