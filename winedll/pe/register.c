/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * register.c: regsvr32 support.  ASIO hosts find drivers under
 * HKLM\Software\ASIO\<name> (CLSID, Description), then create the CLSID
 * through COM, which needs the usual InprocServer32 entry.
 */
#include "driver.h"

#include <olectl.h>

#define CLSID_KEY L"CLSID\\" ASIOJACK_CLSID_STRING
#define ASIO_KEY L"Software\\ASIO\\asiojack"
#define DESCRIPTION L"asiojack"

static LSTATUS set_string(HKEY key, const WCHAR *name, const WCHAR *value)
{
    DWORD bytes = (DWORD)((lstrlenW(value) + 1) * sizeof(WCHAR));
    return RegSetValueExW(key, name, 0, REG_SZ, (const BYTE *)value, bytes);
}

/* Create root\path and set the given values; name NULL is the default. */
static LSTATUS write_key(HKEY root, const WCHAR *path, const WCHAR *name1,
                         const WCHAR *value1, const WCHAR *name2, const WCHAR *value2)
{
    HKEY key;
    LSTATUS r = RegCreateKeyExW(root, path, 0, NULL, 0, KEY_WRITE, NULL, &key, NULL);
    if (r)
        return r;
    r = set_string(key, name1, value1);
    if (!r && value2)
        r = set_string(key, name2, value2);
    RegCloseKey(key);
    return r;
}

HRESULT WINAPI DllRegisterServer(void)
{
    WCHAR path[MAX_PATH];
    DWORD n = GetModuleFileNameW(asiojack_module(), path, MAX_PATH);
    if (n == 0 || n >= MAX_PATH)
        return SELFREG_E_CLASS;

    LSTATUS r = write_key(HKEY_CLASSES_ROOT, CLSID_KEY, NULL, DESCRIPTION, NULL, NULL);
    if (!r)
        r = write_key(HKEY_CLASSES_ROOT, CLSID_KEY L"\\InprocServer32", NULL, path,
                      L"ThreadingModel", L"Both");
    if (r)
        return SELFREG_E_CLASS;
    r = write_key(HKEY_LOCAL_MACHINE, ASIO_KEY, L"CLSID", ASIOJACK_CLSID_STRING,
                  L"Description", DESCRIPTION);
    return r ? SELFREG_E_CLASS : S_OK;
}

HRESULT WINAPI DllUnregisterServer(void)
{
    LSTATUS a = RegDeleteTreeW(HKEY_CLASSES_ROOT, CLSID_KEY);
    LSTATUS b = RegDeleteTreeW(HKEY_LOCAL_MACHINE, ASIO_KEY);
    /* Already gone is as good as removed. */
    if ((a && a != ERROR_FILE_NOT_FOUND) || (b && b != ERROR_FILE_NOT_FOUND))
        return SELFREG_E_CLASS;
    return S_OK;
}
