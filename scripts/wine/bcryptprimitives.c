/*
 * A stand-in for bcryptprimitives.dll, for Wine 8 only (Debian bookworm's):
 * scripts/windows-lab.sh builds it with mingw-w64 and puts it in the
 * throwaway Wine prefix's system32, never next to the lab's .exe.
 *
 * Why: Rust's std on Windows (1.78 and later) imports ProcessPrng from
 * bcryptprimitives.dll for the random keys of its hash maps. Windows 10 and
 * later have it; Wine has it only from Wine 9.0, so under Wine 8 every Rust
 * program fails to start (loader status c0000135, exit status 53).
 *
 * ProcessPrng(data, len) fills `data` with `len` random bytes and always
 * returns TRUE (documented in Microsoft's "ProcessPrng function" page of the
 * Windows API reference). Here it is RtlGenRandom (advapi32's
 * SystemFunction036, which Wine has), called in ULONG-sized pieces.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
