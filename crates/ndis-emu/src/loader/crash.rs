//! Crash reporting for a loaded image: a handler for SIGSEGV, SIGBUS,
//! SIGILL and SIGFPE that reports, then exits with [`CRASH_EXIT_CODE`]:
//!
//! * **a fault inside the image**: `<image>+0x<offset>` with its section
//!   and the nearest export before it, the signal, RIP, the fault address
//!   and the registers; then, from the emulator's world, the handler the
//!   driver was running, the NDIS handles and pool blocks the fault address
//!   and the registers point at (with each handle's history), the rule
//!   violations so far and the last events of the trace (`context`);
//! * **a fault in host code the image called** (a DDI or intrinsic of the
//!   emulator that dereferenced what the driver passed): the DDI, named from
//!   the image's call site (`call [IAT slot]`, or a `call` to a `jmp [IAT
//!   slot]` thunk), and the image offset it was called from, found as the
//!   innermost return address into the image on the faulting thread's
//!   stack.
//!
//! Any other fault goes to whatever handled the signal before (Rust's
//! stack-overflow handler, or the default action).
//!
//! # What the handler may do
//!
//! The first part of every report is async-signal-safe: it reads only
//! immutable data built before the handler was installed, formats into stack
//! buffers and calls `write(2)`, `gettid`, `nanosleep`, `sigaction(2)`,
//! `raise(3)` and `_exit(2)`. It reads the faulting thread's stack through a
//! pipe (`write(2)` of an unreadable range fails with EFAULT instead of
//! faulting), so a scan never faults. One thread reports at a time (a thread
//! id in [`OWNER`]); a second fault on the reporting thread ends the process
//! at once; another thread faulting meanwhile waits to be ended with it.
//!
//! The world part is best effort and runs only for a fault inside the
//! image, where the faulting thread cannot be holding the world: the world
//! is borrowed only inside the emulator's own functions, never across a call
//! into the driver (world.rs), so a thread executing image code holds no
//! borrow. It runs after the first part is out, on a 1 MiB report stack
//! mapped at load time (the alternate signal stack Rust gives a thread is a
//! few KiB), under a watchdog (`alarm(2)`: a report that hangs, say on a
//! lock another thread holds, is cut after [`WATCHDOG_SECONDS`] with the
//! same exit code) and inside `catch_unwind`. It allocates: a fault in the
//! image is not inside malloc on this thread, and another thread holding a
//! malloc lock releases it. For a fault in host code the world is not read
//! at all (the fault may be inside a borrow of it on this thread).
//!
//! Handlers run on an alternate signal stack (so a stack overflow in the
//! driver is reported too): the loader gives one to the loading thread if it
//! has none (`ensure_alt_stack`); Rust gives one to every thread it starts.

use core::ffi::{c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

use super::context;
use super::error::LoadError;
use super::map::{Mapping, PAGE, Prot};

/// The exit code of a process whose loaded image faulted, or that faulted
/// in a DDI the image called.
pub const CRASH_EXIT_CODE: i32 = 3;

/// The signals a faulting instruction raises.
const SIGNALS: [(c_int, &str); 4] = [
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGFPE, "SIGFPE"),
];

/// Bytes of the alternate signal stack the loader gives a thread that has
/// none.
const ALT_STACK: usize = 64 * 1024;
/// Bytes of the stack the world part of a report runs on.
const REPORT_STACK: usize = 1 << 20;
/// How far above the faulting RSP the stack is searched for a return
/// address into the image.
const STACK_SCAN: usize = 256 * 1024;
/// The most a report may take before the watchdog ends the process.
pub(crate) const WATCHDOG_SECONDS: u32 = 10;

/// A section of the loaded image, as reports name it.
#[derive(Debug, Clone)]
pub(crate) struct SectionInfo {
    pub(crate) name: String,
    pub(crate) rva: usize,
    pub(crate) extent: usize,
    pub(crate) prot: Prot,
}

/// What the handler knows about the loaded image. Built before the handler
/// is installed and never changed after.
///
/// INVARIANT: every section in `sections` lies in memory that stays mapped
/// for the rest of the process with the protection its `prot` says, never
/// reprotected after the map is built (the loader builds it after its last
/// `protect` and then leaks the mapping; the tests point it at a `'static`),
/// and a section whose `prot` is not writable is never written. [`Self::bytes`]
/// relies on this.
#[derive(Debug)]
pub(crate) struct ImageMap {
    pub(crate) name: String,
    pub(crate) base: usize,
    pub(crate) size: usize,
    pub(crate) sections: Vec<SectionInfo>,
    /// Named exports (RVA, name), ascending.
    pub(crate) exports: Vec<(usize, String)>,
    /// IAT slots (RVA, `module!name`), ascending.
    pub(crate) imports: Vec<(usize, String)>,
}

impl ImageMap {
    fn offset_of(&self, address: usize) -> Option<usize> {
        address.checked_sub(self.base).filter(|&o| o < self.size)
    }

    fn section_of(&self, offset: usize) -> Option<&SectionInfo> {
        self.sections
            .iter()
            .find(|s| offset >= s.rva && offset - s.rva < s.extent)
    }

    /// The nearest named export at or before `offset`, in the same section.
    fn export_before(&self, offset: usize) -> Option<&(usize, String)> {
        let section = self.section_of(offset)?;
        self.exports
            .iter()
            .rev()
            .find(|(rva, _)| *rva <= offset && *rva >= section.rva)
    }

    /// The bytes `offset..offset + len`, if they all lie in one section
    /// that is readable and not writable (code, constants: mapped for the
    /// life of the process and never written after load).
    fn bytes(&self, offset: usize, len: usize) -> Option<&'static [u8]> {
        let section = self.section_of(offset)?;
        let end = offset.checked_add(len)?;
        if !section.prot.read || section.prot.write || end > section.rva + section.extent {
            return None;
        }
        let address = self.base.checked_add(offset)?;
        // SAFETY: `offset..end` lies inside a readable, non-writable section
        // of the image's mapping (checked above), which is never unmapped,
        // reprotected or written after load, so the shared slice aliases no
        // write for as long as it lives.
        Some(unsafe { core::slice::from_raw_parts(address as *const u8, len) })
    }

    /// The import the image calls in the instruction ending at `offset` (a
    /// return address), if it is a call to an import: `call [rip+slot]`
    /// (`ff 15`, optionally REX.W), or `call thunk` (`e8`) where the thunk
    /// is `jmp [rip+slot]` (`ff 25`).
    fn import_called_before(&self, offset: usize) -> Option<&str> {
        let executable = |o: usize| self.section_of(o).is_some_and(|s| s.prot.execute);
        if !executable(offset.checked_sub(1)?) {
            return None;
        }
        let disp = |at: usize| -> Option<isize> {
            let b = self.bytes(at, 4)?;
            Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as isize)
        };
        let slot = if let Some(start) = offset.checked_sub(6)
            && self.bytes(start, 2) == Some(&[0xff, 0x15])
        {
            offset.checked_add_signed(disp(start + 2)?)
        } else if let Some(start) = offset.checked_sub(5)
            && self.bytes(start, 1) == Some(&[0xe8])
        {
            let thunk = offset.checked_add_signed(disp(start + 1)?)?;
            if !executable(thunk) || self.bytes(thunk, 2) != Some(&[0xff, 0x25]) {
                return None;
            }
            (thunk + 6).checked_add_signed(disp(thunk + 2)?)
        } else {
            None
        }?;
        let index = self.imports.binary_search_by_key(&slot, |(rva, _)| *rva).ok()?;
        self.imports.get(index).map(|(_, name)| name.as_str())
    }
}

/// The handler's view: the image and what the report needs.
///
/// INVARIANT: `report_stack_top` is the 16-byte aligned top of a mapping of
/// REPORT_STACK bytes above a guard page, leaked (never unmapped); `pipe`
/// holds two open descriptors that are never closed once the region is set
/// (it lives in a `OnceLock` static for the rest of the process).
struct Region {
    image: ImageMap,
    /// The top of the report stack (16-byte aligned).
    report_stack_top: usize,
    /// A pipe the stack scan reads memory through: [read end, write end].
    pipe: [c_int; 2],
}

static REGION: OnceLock<Region> = OnceLock::new();
/// The actions the handler replaced, in [`SIGNALS`] order.
static PREVIOUS: OnceLock<[libc::sigaction; 4]> = OnceLock::new();
/// The thread id of the thread reporting a crash, or 0.
static OWNER: AtomicI32 = AtomicI32::new(0);

/// Installs the handler for `image`. Once per process (the loader loads one
/// image).
pub(crate) fn install(image: ImageMap) -> Result<(), LoadError> {
    ensure_alt_stack()?;
    let stack = Mapping::new(REPORT_STACK + PAGE)?;
    // A guard page at the bottom: a report that overflows faults, and the
    // nested fault ends the process (see the module docs).
    stack.protect(0, PAGE, Prot::default())?;
    let report_stack_top = (stack.base() + stack.len()) & !0xf;
    let mut pipe = [0; 2];
    // SAFETY: `pipe` is a valid out-array of two file descriptors.
    let rc = unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if rc != 0 {
        return Err(os_error("pipe2"));
    }
    if REGION
        .set(Region {
            image,
            report_stack_top,
            pipe,
        })
        .is_err()
    {
        for fd in pipe {
            // SAFETY: closes the two descriptors just created, used by no one.
            let _ = unsafe { libc::close(fd) };
        }
        return Ok(());
    }
    let _ = stack.leak();

    let mut previous = [zeroed_action(); 4];
    for ((signal, _), old) in SIGNALS.iter().zip(previous.iter_mut()) {
        // SAFETY: a query (no new action) into a valid out-parameter.
        let rc = unsafe { libc::sigaction(*signal, core::ptr::null(), old) };
        if rc != 0 {
            return Err(os_error("sigaction"));
        }
    }
    if PREVIOUS.set(previous).is_err() {
        return Ok(());
    }
    let mut action = zeroed_action();
    action.sa_sigaction = on_fault as *const () as usize;
    // SA_NODEFER: a fault inside the report re-enters the handler, which
    // sees its own thread reporting and ends the process with the crash code.
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
    // SAFETY: `sa_mask` is a valid sigset_t to initialise.
    let rc = unsafe { libc::sigemptyset(&raw mut action.sa_mask) };
    if rc != 0 {
        return Err(os_error("sigemptyset"));
    }
    for (signal, _) in SIGNALS {
        // SAFETY: `action` is fully initialised and names a handler with the
        // SA_SIGINFO signature that stays valid for the life of the process.
        let rc = unsafe { libc::sigaction(signal, &raw const action, core::ptr::null_mut()) };
        if rc != 0 {
            return Err(os_error("sigaction"));
        }
    }
    Ok(())
}

/// Gives the calling thread an alternate signal stack if it has none (Rust
/// gives one to the main thread and to the threads it spawns; a thread
/// started some other way may not have one). The stack is never freed.
pub fn ensure_alt_stack() -> Result<(), LoadError> {
    let mut current = zeroed_stack();
    // SAFETY: a query (no new stack) into a valid out-parameter.
    let rc = unsafe { libc::sigaltstack(core::ptr::null(), &raw mut current) };
    if rc != 0 {
        return Err(os_error("sigaltstack"));
    }
    if current.ss_flags & libc::SS_DISABLE == 0 {
        return Ok(());
    }
    let memory = Mapping::new(ALT_STACK)?;
    let stack = libc::stack_t {
        ss_sp: memory.base() as *mut c_void,
        ss_flags: 0,
        ss_size: memory.len(),
    };
    // SAFETY: `stack` describes a read-write mapping that is never unmapped
    // (leaked below), large enough for the handler.
    let rc = unsafe { libc::sigaltstack(&raw const stack, core::ptr::null_mut()) };
    if rc != 0 {
        return Err(os_error("sigaltstack"));
    }
    let _ = memory.leak();
    Ok(())
}

/// `(image name, "<image>+0x<offset> [<section>+0x.., <export>+0x..]")` for
/// `address`, or a plain address when it is outside the image. Not for the
/// signal handler (it allocates).
pub(crate) fn locate(address: usize) -> (String, String) {
    let Some(region) = REGION.get() else {
        return ("the image".to_owned(), format!("{address:#x}"));
    };
    let image = &region.image;
    let mut line = Line::default();
    match image.offset_of(address) {
        Some(offset) => push_location(&mut line, image, offset),
        None => {
            line.hex(address);
            line.push(b" (outside the image)");
        }
    }
    (image.name.clone(), String::from_utf8_lossy(line.text()).into_owned())
}

/// `len` bytes of the image at `address`, if they lie in one readable
/// section. Not for the signal handler (it allocates).
pub(crate) fn read_image(address: usize, len: usize) -> Option<Vec<u8>> {
    let image = &REGION.get()?.image;
    let offset = image.offset_of(address)?;
    image.bytes(offset, len).map(<[u8]>::to_vec)
}

fn zeroed_action() -> libc::sigaction {
    // SAFETY: sigaction is a C struct of integers, a sigset_t and an
    // optional function pointer, for all of which zero is valid.
    unsafe { core::mem::zeroed() }
}

fn zeroed_stack() -> libc::stack_t {
    // SAFETY: stack_t is a C struct of a pointer and integers; zero is valid.
    unsafe { core::mem::zeroed() }
}

fn os_error(call: &'static str) -> LoadError {
    LoadError::Os {
        call,
        errno: std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
    }
}

/// The general registers of a ucontext, in report order.
const REGISTERS: [(&str, c_int); 16] = [
    ("rax", libc::REG_RAX),
    ("rbx", libc::REG_RBX),
    ("rcx", libc::REG_RCX),
    ("rdx", libc::REG_RDX),
    ("rsi", libc::REG_RSI),
    ("rdi", libc::REG_RDI),
    ("rbp", libc::REG_RBP),
    ("rsp", libc::REG_RSP),
    ("r8", libc::REG_R8),
    ("r9", libc::REG_R9),
    ("r10", libc::REG_R10),
    ("r11", libc::REG_R11),
    ("r12", libc::REG_R12),
    ("r13", libc::REG_R13),
    ("r14", libc::REG_R14),
    ("r15", libc::REG_R15),
];

/// The interrupted thread's RIP and general registers (zeros if the kernel
/// passed no context).
fn registers(context: *mut c_void) -> (usize, [(&'static str, usize); 16]) {
    let mut out = REGISTERS.map(|(name, _)| (name, 0usize));
    if context.is_null() {
        return (0, out);
    }
    let context = context.cast::<libc::ucontext_t>();
    // SAFETY: for an SA_SIGINFO handler the third argument is the
    // interrupted thread's ucontext_t, valid during the handler.
    let gregs = unsafe { &(*context).uc_mcontext.gregs };
    let get = |index: c_int| {
        usize::try_from(index)
            .ok()
            .and_then(|i| gregs.get(i))
            .copied()
            .unwrap_or(0) as usize
    };
    for ((_, value), (_, index)) in out.iter_mut().zip(REGISTERS) {
        *value = get(index);
    }
    (get(libc::REG_RIP), out)
}

/// What the faulting thread was doing, as far as the handler can tell.
enum Fault<'a> {
    /// Executing the image, at this offset.
    InImage(usize),
    /// Executing host code that the image called: the import, and the
    /// image offset of the return address.
    InHostCalledFromImage { import: &'a str, return_offset: usize },
}

/// The calling thread's id.
fn thread_id() -> i32 {
    // SAFETY: gettid has no preconditions and is async-signal-safe.
    unsafe { libc::gettid() }
}

/// Becomes the one reporting thread: returns once this thread owns the
/// report; ends the process if this thread already did (a fault inside its
/// own report).
fn claim() {
    let me = thread_id();
    loop {
        match OWNER.compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(owner) if owner == me => {
                let mut line = Line::default();
                line.push(b"ndis-emu: the crash report itself faulted; exiting\n");
                line.write_stderr();
                // SAFETY: _exit is async-signal-safe and ends the process.
                unsafe { libc::_exit(CRASH_EXIT_CODE) };
            }
            Err(_) => {
                let pause = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 1_000_000,
                };
                // SAFETY: nanosleep is async-signal-safe; `pause` is valid.
                let _ = unsafe { libc::nanosleep(&raw const pause, core::ptr::null_mut()) };
            }
        }
    }
}

fn release() {
    OWNER.store(0, Ordering::Release);
}

/// Copies `buffer.len()` bytes at `address` into `buffer` through the pipe,
/// or fails (without faulting) if they are not all readable.
fn read_memory(pipe: [c_int; 2], address: usize, buffer: &mut [u8]) -> bool {
    // SAFETY: write(2) reads `buffer.len()` bytes at `address` in the
    // kernel, which reports EFAULT for an unreadable range instead of
    // faulting; the pipe is ours and empty (every write is read back below).
    let written = unsafe { libc::write(pipe[1], address as *const c_void, buffer.len()) };
    if usize::try_from(written).ok() != Some(buffer.len()) {
        if written > 0 {
            drain(pipe, buffer);
        }
        return false;
    }
    // SAFETY: reads back what was just written into a buffer of that length.
    let read = unsafe { libc::read(pipe[0], buffer.as_mut_ptr().cast(), buffer.len()) };
    usize::try_from(read).ok() == Some(buffer.len())
}

/// Empties the pipe after a partial write.
fn drain(pipe: [c_int; 2], scratch: &mut [u8]) {
    // SAFETY: reads into a valid buffer; the pipe is non-blocking.
    while unsafe { libc::read(pipe[0], scratch.as_mut_ptr().cast(), scratch.len()) } > 0 {}
}

/// The innermost call from the image into an import on the stack above
/// `rsp`: (import, return offset in the image).
fn find_image_call(region: &Region, rsp: usize) -> Option<(&str, usize)> {
    const CHUNK: usize = 512;
    let mut buffer = [0u8; CHUNK];
    let start = rsp & !7;
    let mut address = start;
    while address < start.saturating_add(STACK_SCAN) {
        if !read_memory(region.pipe, address, &mut buffer) {
            return None;
        }
        for word in buffer.chunks_exact(8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            let value = u64::from_le_bytes(bytes) as usize;
            if let Some(offset) = region.image.offset_of(value)
                && let Some(import) = region.image.import_called_before(offset)
            {
                return Some((import, offset));
            }
        }
        address = address.checked_add(CHUNK)?;
    }
    None
}

/// `<image>+0x<offset> [<section>+0x.., <export>+0x..]`.
fn push_location(line: &mut Line, image: &ImageMap, offset: usize) {
    line.push(image.name.as_bytes());
    line.push(b"+");
    line.hex(offset);
    if let Some(section) = image.section_of(offset) {
        line.push(b" [");
        line.push(section.name.as_bytes());
        line.push(b"+");
        line.hex(offset - section.rva);
        if let Some((rva, name)) = image.export_before(offset) {
            line.push(b", ");
            line.push(name.as_bytes());
            line.push(b"+");
            line.hex(offset - rva);
        }
        line.push(b"]");
    }
}

/// The signal handler (see the module docs for what it may do). It runs on
/// the thread's alternate signal stack, which is small (Rust's are a few
/// KiB, and the kernel's signal frame takes part of that), so it only claims
/// the report and moves to the report stack: the report's buffers would
/// overflow the alternate stack, and an overflow there faults forever.
extern "C" fn on_fault(signal: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    let Some(region) = REGION.get() else {
        chain(signal, info);
        return;
    };
    claim();
    let mut job = FaultJob {
        signal,
        info,
        context,
        region,
    };
    on_report_stack(region.report_stack_top, report, (&raw mut job).cast());
    // `report` returns only for a fault that is not the image's.
    release();
    chain(signal, info);
}

/// What [`report`] gets from the handler.
///
/// INVARIANT: `info` and `context` are the kernel's arguments to the running
/// SA_SIGINFO handler, valid until it returns; the job itself lives in the
/// handler's frame, which outlives the report.
struct FaultJob {
    signal: c_int,
    info: *mut libc::siginfo_t,
    context: *mut c_void,
    region: &'static Region,
}

/// Reports the fault and ends the process, or returns if the fault is none
/// of the image's. Runs on the report stack.
extern "C" fn report(job: *mut c_void) {
    // SAFETY: `job` is the FaultJob on_fault passed, alive until this
    // returns (on_fault waits for it).
    let job = unsafe { &*job.cast::<FaultJob>() };
    let (signal, region) = (job.signal, job.region);
    let (rip, registers) = registers(job.context);
    // SAFETY: the kernel passes a valid siginfo_t for an SA_SIGINFO handler,
    // alive during the handler.
    let info_ref = unsafe { &*job.info };
    // SAFETY: si_addr is meaningful for the four fault signals handled here
    // (for SIGILL and SIGFPE it is the faulting instruction).
    let address = unsafe { info_ref.si_addr() } as usize;
    let fault = match region.image.offset_of(rip) {
        Some(offset) => Fault::InImage(offset),
        None => {
            let rsp = registers.iter().find(|(n, _)| *n == "rsp").map_or(0, |(_, v)| *v);
            match find_image_call(region, rsp) {
                Some((import, return_offset)) => Fault::InHostCalledFromImage { import, return_offset },
                None => return,
            }
        }
    };
    let name = SIGNALS
        .iter()
        .find(|(s, _)| *s == signal)
        .map_or("a fault signal", |(_, n)| n);
    let image = &region.image;
    let mut line = Line::default();
    match fault {
        Fault::InImage(offset) => {
            line.push(b"ndis-emu: the driver crashed: ");
            line.push(name.as_bytes());
            line.push(b" at ");
            push_location(&mut line, image, offset);
        }
        Fault::InHostCalledFromImage { import, return_offset } => {
            line.push(b"ndis-emu: the emulator crashed in host code: ");
            line.push(name.as_bytes());
            line.push(b" inside ");
            line.push(import.as_bytes());
            line.push(b", called from ");
            push_location(&mut line, image, return_offset);
        }
    }
    line.push(b" (rip ");
    line.hex(rip);
    line.push(b", fault address ");
    line.hex(address);
    line.push(b")\n");
    line.write_stderr();

    let mut line = Line::default();
    line.push(b"ndis-emu: registers:");
    for (name, value) in registers {
        line.push(b" ");
        line.push(name.as_bytes());
        line.push(b"=");
        line.hex(value);
    }
    line.push(b"\n");
    line.write_stderr();

    match fault {
        Fault::InImage(_) => {
            start_watchdog();
            world_report(
                &registers,
                matches!(signal, libc::SIGSEGV | libc::SIGBUS).then_some(address),
            );
        }
        Fault::InHostCalledFromImage { import, .. } => {
            let mut line = Line::default();
            line.push(b"ndis-emu: the driver's call to ");
            line.push(import.as_bytes());
            line.push(
                b" faulted inside the emulator: it most likely passed a bad pointer \
                  (the world is not read: this thread may hold it)\n",
            );
            line.write_stderr();
        }
    }
    let mut line = Line::default();
    line.push(b"ndis-emu: exiting with code 3\n");
    line.write_stderr();
    // SAFETY: _exit is async-signal-safe and ends the process at once.
    unsafe { libc::_exit(CRASH_EXIT_CODE) };
}

/// The world part of a report (see the module docs), under the watchdog.
fn world_report(registers: &[(&'static str, usize)], fault: Option<usize>) {
    let cpu = crate::world::cpu_snapshot();
    let text =
        std::panic::catch_unwind(move || crate::world::try_with(|w| context::describe(w, cpu, registers, fault)));
    let text = match text {
        Ok(Some(text)) => text,
        Ok(None) => "ndis-emu: the emulator's state is not available on this thread\n".to_owned(),
        Err(_) => "ndis-emu: the emulator's state could not be read\n".to_owned(),
    };
    write_all(text.as_bytes());
}

/// Calls `f(arg)` with RSP at `top`, and returns on the original stack.
fn on_report_stack(top: usize, f: extern "C" fn(*mut c_void), arg: *mut c_void) {
    // SAFETY: `top` is the 16-byte aligned top of a 1 MiB read-write
    // mapping that is never unmapped and that only the one reporting thread
    // uses (`claim`); `f` is an `extern "C"` function, which never unwinds
    // (a panic inside it aborts); r12 is callee-saved, so it holds the original
    // RSP across the call; every caller-saved register is declared
    // clobbered; the call leaves the stack as it found it.
    unsafe {
        core::arch::asm!(
            "mov r12, rsp",
            "mov rsp, {top}",
            "call {f}",
            "mov rsp, r12",
            top = in(reg) top,
            f = in(reg) f,
            in("rdi") arg,
            out("r12") _,
            clobber_abi("C"),
        );
    }
}

/// Arms the watchdog: after [`WATCHDOG_SECONDS`], SIGALRM ends the process
/// with the crash code.
fn start_watchdog() {
    let mut action = zeroed_action();
    action.sa_sigaction = on_watchdog as *const () as usize;
    action.sa_flags = libc::SA_ONSTACK;
    // SAFETY: sigaction and alarm are async-signal-safe; `action` is fully
    // initialised (empty mask) and names a handler valid for the process.
    let _ = unsafe { libc::sigaction(libc::SIGALRM, &raw const action, core::ptr::null_mut()) };
    // SAFETY: alarm takes a plain number and touches no memory; the SIGALRM
    // handler it arms was installed just above.
    let _ = unsafe { libc::alarm(WATCHDOG_SECONDS) };
}

extern "C" fn on_watchdog(_: c_int) {
    let mut line = Line::default();
    line.push(b"\nndis-emu: the crash report timed out; exiting with code 3\n");
    line.write_stderr();
    // SAFETY: _exit is async-signal-safe and ends the process at once.
    unsafe { libc::_exit(CRASH_EXIT_CODE) };
}

/// Hands a fault outside the image to the action installed before ours: put
/// it back and return, so the faulting instruction runs again under it (a
/// signal sent by kill is raised again instead).
fn chain(signal: c_int, info: *mut libc::siginfo_t) {
    let index = SIGNALS.iter().position(|(s, _)| *s == signal);
    let mut action = match (PREVIOUS.get(), index) {
        (Some(previous), Some(i)) => previous.get(i).copied().unwrap_or_else(zeroed_action),
        _ => zeroed_action(),
    };
    // An ignored fault would run again forever: take the default instead.
    if action.sa_sigaction == libc::SIG_IGN {
        action.sa_sigaction = libc::SIG_DFL;
    }
    // SAFETY: sigaction is async-signal-safe; `action` is a value the
    // kernel gave us (or SIG_DFL).
    let _ = unsafe { libc::sigaction(signal, &raw const action, core::ptr::null_mut()) };
    // SAFETY: the kernel passes a valid siginfo_t for an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    if code <= 0 {
        // Sent by a process (SI_USER, SI_TKILL...): raise it again; it is
        // delivered under the restored action once this handler returns.
        // SAFETY: raise is async-signal-safe.
        let _ = unsafe { libc::raise(signal) };
    }
}

/// Writes all of `bytes` to stderr (async-signal-safe).
fn write_all(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: write(2) is async-signal-safe; `bytes` is readable for its
        // length.
        let n = unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(n) {
            Ok(n) if n > 0 => bytes = bytes.get(n..).unwrap_or_default(),
            _ => return,
        }
    }
}

/// A fixed-size line for the handler.
///
/// INVARIANT: `len <= bytes.len()`: [`Line::push`] counts only the bytes it
/// stored, so `bytes[..len]` is the text.
struct Line {
    bytes: [u8; 512],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self {
            bytes: [0; 512],
            len: 0,
        }
    }
}

impl Line {
    fn push(&mut self, text: &[u8]) {
        for &b in text {
            if let Some(slot) = self.bytes.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    /// `0x` and the lowercase hex digits of `value`.
    fn hex(&mut self, value: usize) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        self.push(b"0x");
        let mut digits = [0u8; 16];
        let mut n = 0;
        let mut v = value;
        loop {
            if let Some(slot) = digits.get_mut(n) {
                *slot = DIGITS.get(v & 0xf).copied().unwrap_or(b'?');
            }
            n += 1;
            v >>= 4;
            if v == 0 || n == digits.len() {
                break;
            }
        }
        for i in (0..n).rev() {
            let d = digits.get(i).copied().unwrap_or(b'?');
            self.push(&[d]);
        }
    }

    fn text(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    fn write_stderr(&self) {
        write_all(self.text());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_format_hex_without_allocating() {
        let mut line = Line::default();
        line.push(b"covmini.sys+");
        line.hex(0x1a2b);
        line.push(b" ");
        line.hex(0);
        line.push(b" ");
        line.hex(usize::MAX);
        assert_eq!(line.text(), b"covmini.sys+0x1a2b 0x0 0xffffffffffffffff");
    }

    /// An image map over `code` (as the image's `.text` at RVA 0x1000),
    /// with one export and two IAT slots in a readable `.rdata` at 0x2000.
    fn map(code: &'static [u8]) -> ImageMap {
        let text = code.as_ptr() as usize;
        let rx = Prot {
            read: true,
            write: false,
            execute: true,
        };
        ImageMap {
            name: "t.sys".to_owned(),
            base: text - 0x1000,
            size: 0x3000,
            sections: vec![SectionInfo {
                name: ".text".to_owned(),
                rva: 0x1000,
                extent: code.len(),
                prot: rx,
            }],
            exports: vec![(0x1000, "DriverEntry".to_owned())],
            imports: vec![
                (0x2000, "ndis.sys!NdisA".to_owned()),
                (0x2008, "ndis.sys!NdisB".to_owned()),
            ],
        }
    }

    #[test]
    fn a_return_address_names_the_import_its_call_went_through() {
        // 0x1000: call [rip + 0xffa] -> slot 0x2000 (next ip 0x1006)
        // 0x1006: call 0x1010 (thunk), next ip 0x100b
        // 0x100b: nop x5
        // 0x1010: jmp [rip + 0xff2] -> slot 0x2008 (next ip 0x1016)
        // 0x1016: mov eax, 1; ret (not a call)
        static CODE: [u8; 0x1c] = [
            0xff, 0x15, 0xfa, 0x0f, 0, 0, // call [rip+0xffa]
            0xe8, 0x05, 0, 0, 0, // call +5
            0x90, 0x90, 0x90, 0x90, 0x90, // nops
            0xff, 0x25, 0xf2, 0x0f, 0, 0, // jmp [rip+0xff2]
            0xb8, 1, 0, 0, 0, 0xc3,
        ];
        let image = map(&CODE);
        assert_eq!(image.import_called_before(0x1006), Some("ndis.sys!NdisA"));
        assert_eq!(image.import_called_before(0x100b), Some("ndis.sys!NdisB"));
        assert_eq!(image.import_called_before(0x101c), None, "after a ret");
        assert_eq!(image.import_called_before(0x1001), None, "inside an instruction");
        assert_eq!(image.import_called_before(0x1000), None, "start of a section");

        let mut line = Line::default();
        push_location(&mut line, &image, 0x100b);
        assert_eq!(line.text(), b"t.sys+0x100b [.text+0xb, DriverEntry+0xb]");
        let mut line = Line::default();
        push_location(&mut line, &image, 0x2004);
        assert_eq!(line.text(), b"t.sys+0x2004", "no section: just the offset");
        assert_eq!(image.bytes(0x1016, 6), Some(&CODE[0x16..]));
        assert_eq!(image.bytes(0x1016, 7), None, "past the section");
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "the point is the kernel's EFAULT for an unmapped address; Miri's write(2) shim reads the memory itself"
    )]
    fn memory_reads_through_the_pipe_fail_instead_of_faulting() {
        let mut pipe = [0; 2];
        // SAFETY: a valid out-array of two descriptors.
        let rc = unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
        assert_eq!(rc, 0);
        let source = [7u8; 64];
        let mut buffer = [0u8; 64];
        assert!(read_memory(pipe, source.as_ptr() as usize, &mut buffer));
        assert_eq!(buffer, source);
        assert!(!read_memory(pipe, 8, &mut buffer), "page 0 is unreadable");
        // The pipe is left empty: the next read is exact.
        let other = [9u8; 64];
        assert!(read_memory(pipe, other.as_ptr() as usize, &mut buffer));
        assert_eq!(buffer, other);
        for fd in pipe {
            // SAFETY: the descriptors made above.
            unsafe { libc::close(fd) };
        }
    }
}
