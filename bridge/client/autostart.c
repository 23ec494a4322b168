/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* autostart.c: start the server detached (double fork through sh + setsid),
 * with only the part of the program's environment the server needs. */
#include "autostart.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/*
 * Whether a variable of the program's environment may reach a server it
 * starts.  A list of what to keep, not of what to drop: Proton and the
 * Steam runtime set LD_LIBRARY_PATH, LD_PRELOAD (the overlay), PYTHONHOME
 * and more to their own files, which would bring e.g. the runtime's old
 * libjack into our server (the protocol mismatch wineasio users hit).
 * Kept: where the user's files are (HOME, XDG_*), which JACK and PipeWire
 * to use (JACK_*, PIPEWIRE_*), asiojack's own settings, how to find the
 * command (PATH), and what the settings window needs (display, locale).
 */
static int server_needs(const char *kv)
{
    static const char *const names[] = {
        "HOME", "USER", "LOGNAME", "PATH", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR",
        "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS",
    };
    static const char *const prefixes[] = {"XDG_", "JACK_", "ASIOJACK_", "PIPEWIRE_", "LC_"};
    const char *eq = strchr(kv, '=');
    size_t n;
    if (!eq)
        return 0;
    n = (size_t)(eq - kv);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && !strncmp(kv, names[i], n))
            return 1;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (!strncmp(kv, prefixes[i], strlen(prefixes[i])))
            return 1;
    return 0;
}

size_t asiojack_server_environ(char **out, size_t max)
{
    size_t n = 0;
    for (char **e = environ; e && *e && n + 1 < max; e++)
        if (server_needs(*e))
            out[n++] = *e;
    out[n] = NULL;
    return n;
}

pid_t asiojack_spawn_server(int log_fd, const char *socket_path)
{
    /* sh backgrounds the server and exits at once, so the server is
     * reparented to init and never becomes a zombie of the host process.
     * It prints the server's pid, so a server that dies at once (not
     * installed, broken configuration) is noticed without waiting.  It
     * runs from / like any daemon: the host's directory is none of its
     * business (and a source tree there could shadow the installed code). */
    static const char script[] =
        "cmd=\"${ASIOJACK_SERVER:-asiojack}\"; cd / && "
        "echo \"asiojack driver (pid $PPID): no server on $1, starting: $cmd serve --auto\" "
        ">&3; "
        "setsid $cmd serve --auto </dev/null >&3 2>&3 3>&- & echo $!";
    char *argv[] = {"sh", "-c", (char *)script, "sh", (char *)socket_path, NULL};
    char *envp[256];
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
    asiojack_server_environ(envp, sizeof(envp) / sizeof(envp[0]));
    int r = posix_spawn(&sh_pid, "/bin/sh", &actions, NULL, argv, envp);
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
