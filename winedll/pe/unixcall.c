/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * unixcall.c: reaching asiojack.so from the PE side.
 *
 * Wine hands a builtin module its unix library through
 * NtQueryVirtualMemory(class MemoryWineUnixFuncs = 1000), which yields an
 * opaque 64-bit handle; ntdll's exported __wine_unix_call_dispatcher (a
 * function pointer variable) then runs entry `code` of the library's
 * __wine_unix_call_funcs with our params pointer, on this same thread.
 * Both are looked up at run time, so no Wine import library is needed and
 * a DLL loaded by something that is not Wine fails in words, not crashes.
 */
#include <stdio.h>

#include "driver.h"

#define MEMORY_WINE_UNIX_FUNCS 1000

typedef UINT64 unixlib_handle_t;
typedef NTSTATUS(WINAPI *unix_dispatcher_fn)(unixlib_handle_t handle, unsigned int code,
                                             void *args);
typedef NTSTATUS(WINAPI *query_memory_fn)(HANDLE process, const void *address, int info_class,
                                          void *info, SIZE_T size, SIZE_T *returned);

static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
static unixlib_handle_t handle;
static unix_dispatcher_fn dispatcher;
static char missing[160];

static BOOL CALLBACK find_unix_lib(INIT_ONCE *init, void *param, void **context)
{
    (void)init, (void)param, (void)context;
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    FARPROC query = ntdll ? GetProcAddress(ntdll, "NtQueryVirtualMemory") : NULL;
    FARPROC var = ntdll ? GetProcAddress(ntdll, "__wine_unix_call_dispatcher") : NULL;
    FARPROC func = ntdll ? GetProcAddress(ntdll, "__wine_unix_call") : NULL;

    /* The variable is what winecrt0 jumps through; the function wraps the
     * same thing on Wine versions that export it. */
    if (var)
        dispatcher = *(unix_dispatcher_fn *)(void *)var;
    else if (func)
        dispatcher = (unix_dispatcher_fn)(void *)func;
    if (!query || !dispatcher) {
        snprintf(missing, sizeof(missing),
                 "asiojack needs Wine: ntdll has no unix call interface");
        return TRUE;
    }
    NTSTATUS st = ((query_memory_fn)(void *)query)(GetCurrentProcess(), asiojack_module(),
                                                   MEMORY_WINE_UNIX_FUNCS, &handle,
                                                   sizeof(handle), NULL);
    if (st || !handle) {
        handle = 0;
        snprintf(missing, sizeof(missing),
                 "asiojack.so not found (status %#lx): Wine looks in its own "
                 "x86_64-unix dir and in WINEDLLPATH's; see asiojack register",
                 (unsigned long)st);
    }
    return TRUE;
}

NTSTATUS asiojack_unix_call(enum asiojack_unix_func code, void *args)
{
    InitOnceExecuteOnce(&once, find_unix_lib, NULL, NULL);
    if (!handle)
        return (NTSTATUS)0xc0000135L; /* STATUS_DLL_NOT_FOUND */
    return dispatcher(handle, (unsigned int)code, args);
}

const char *asiojack_unix_missing(void)
{
    InitOnceExecuteOnce(&once, find_unix_lib, NULL, NULL);
    return handle ? NULL : missing;
}
