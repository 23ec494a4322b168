/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * panel.c: ASIO's controlPanel.  asiojack has no dialog of its own inside
 * the Wine process: the settings are the server's configuration file, and
 * `asiojack settings` (a small Linux window) edits it.  Hosts call
 * controlPanel on their GUI thread and wait for it, so the window is
 * started detached, like the autostarted server, and never waited for.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autostart.h"
#include "unix_private.h"


static int has_display(void)
{
    const char *x11 = getenv("DISPLAY"), *wayland = getenv("WAYLAND_DISPLAY");
    return (x11 && *x11) || (wayland && *wayland);
}

/* The settings window's log sits next to the server's. */
static void log_path(char *buf, size_t size)
{
    char sock[256];
    char *slash;
    if (asiojack_socket_path(sock, sizeof(sock)) < 0 || !(slash = strrchr(sock, '/'))) {
        snprintf(buf, size, "/dev/null");
        return;
    }
    *slash = 0;
    mkdir(sock, 0700);
    snprintf(buf, size, "%s/settings.log", sock);
}

asiojack_ntstatus asiojack_unix_control_panel(void *args)
{
    struct asiojack_unix_panel_params *p = args;
    /* Same command convention as the server's autostart: sh backgrounds a
     * setsid'd child and exits at once, so nothing is left for the host
     * process to reap and the window outlives a host that quits. */
    static const char script[] =
        "cmd=\"${ASIOJACK_SERVER:-asiojack}\"; cd / && "
        "setsid $cmd settings --pid \"$2\" </dev/null >>\"$1\" 2>&1 &";
    char log[300], pid[16];
    pid_t sh_pid;
    int status;

    p->error[0] = 0;
    if (!has_display()) {
        /* The host shows at most 123 characters: the command first. */
        const char *file = getenv("ASIOJACK_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
        p->status = ASIOJACK_PANEL_NO_DISPLAY;
        if (file && *file)
            snprintf(p->error, sizeof(p->error), "no display: run `asiojack config` or edit %s",
                     file);
        else if (xdg && *xdg)
            snprintf(p->error, sizeof(p->error),
                     "no display: run `asiojack config` or edit %s/asiojack/config.toml", xdg);
        else
            snprintf(p->error, sizeof(p->error),
                     "no display: run `asiojack config` or edit ~/.config/asiojack/config.toml");
        return ASIOJACK_STATUS_SUCCESS;
    }
    log_path(log, sizeof(log));
    /* The window shows this program first: the server knows it by this
     * pid (the socket's peer), the Wine process itself. */
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    char *argv[] = {"sh", "-c", (char *)script, "sh", log, pid, NULL};
    /* The settings window is our Python too: no runtime's libraries in it. */
    char *envp[256];
    asiojack_server_environ(envp, sizeof(envp) / sizeof(envp[0]));
    int r = posix_spawn(&sh_pid, "/bin/sh", NULL, NULL, argv, envp);
    if (r != 0) {
        p->status = ASIOJACK_PANEL_FAILED;
        snprintf(p->error, sizeof(p->error), "cannot run /bin/sh for `asiojack settings`: %s",
                 strerror(r));
        return ASIOJACK_STATUS_SUCCESS;
    }
    while (waitpid(sh_pid, &status, 0) < 0) {
        if (errno != EINTR)
            break; /* SIGCHLD ignored by the host: nothing to reap */
    }
    p->status = ASIOJACK_PANEL_STARTED;
    return ASIOJACK_STATUS_SUCCESS;
}
