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
 * ProcessPrng(data, len) fills `data` with `len` random bytes; Windows's
 * own "always returns TRUE" (Microsoft's "ProcessPrng function" page,
 * learn.microsoft.com/windows/win32/seccng/processprng). Here it is
 * RtlGenRandom (advapi32's SystemFunction036, which Wine 8 has), called in
 * pieces that fit its ULONG length; it returns FALSE if RtlGenRandom fails
 * rather than pretend (Rust's std only debug-asserts TRUE, and the std
 * that rustup ships is built without debug assertions).
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
