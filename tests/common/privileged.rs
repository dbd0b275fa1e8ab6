//! The privileged-instruction scan of a kernel image: every executable
//! section is decoded linearly with a real decoder (`iced-x86` for x64,
//! `yaxpeax-arm` for ARM64) and every instruction that cannot run in user
//! mode, and that a driver should get from ntoskrnl instead, is reported by
//! its offset in the image (RVA), its section and its text.
//!
//! Why it matters: ndis-emu runs the exact image in a user-mode process.
//! Reading CR8 for the IRQL, `cli`/`sti`, or a `gs:`-relative read of the
//! KPCR would fault there (or, worse, read the process's own TEB), and would
//! bypass the emulator's IRQL and lock model even where they did not fault.
//! A driver gets all of these from ntoskrnl exports (KeGetCurrentIrql,
//! KeAcquireSpinLock...), which the emulator implements.
//!
//! What it flags:
//! * x64: mov to/from CRn/DRn; `cli`, `sti`, `hlt`; `in`/`out`/`ins`/`outs`;
//!   `rdmsr`/`wrmsr` and relatives; `swapgs`; descriptor-table and TLB/cache
//!   control (`lgdt`, `lidt`, `lldt`, `ltr`, `invlpg`, `invd`, `wbinvd`...)
//!   and their UMIP-restricted readers (`sgdt`, `sidt`, `sldt`, `str`,
//!   `smsw`); `rdpmc`; returns from interrupts and system calls (`iretq`,
//!   `sysret`, `sysexit`); system calls and software interrupts other than
//!   `int3`; segment-base and segment-register writes; `popf` (restores IF);
//!   `clac`/`stac`, `xsaves`/`xrstors`, `monitor`/`mwait`, VMX; and any
//!   memory access through an `fs:` or `gs:` segment (per-CPU data: the
//!   KPCR). Segment prefixes `cs:`/`ds:`/`es:`/`ss:` are ignored (no effect
//!   in 64-bit mode: compilers use `cs:` in multi-byte nops).
//! * ARM64: `mrs`/`msr` of a system register outside the EL0 space
//!   (`op1 != 3`), `msr` to a PSTATE field other than SSBS/DIT/TCO
//!   (DAIFSet/DAIFClr mask interrupts), `sys`/`sysl` with `op1 != 3` (TLB
//!   maintenance, address translation), `eret*`, `hvc`, `smc`, `svc`, `hlt`,
//!   `dcps*`, `wfi`, and any use of `x18` (the platform register: KPCR in
//!   the kernel, TEB in user mode, the ARM64 analogue of `gs:`).
//!
//! Padding is understood, not skipped: `int3` (x64) and nops decode as the
//! ordinary instructions they are and are never flagged. Bytes that do not
//! decode are reported separately (a linear sweep that desynchronises shows
//! up there), never passed over in silence.

#![allow(dead_code)]

use core::fmt;

use iced_x86::{Decoder, DecoderOptions, Formatter as _, Instruction, IntelFormatter, Mnemonic, OpKind, Register};
use ndis_emu::pe::{Machine, PeImage, section_characteristics as scn};
use yaxpeax_arch::{Decoder as _, U8Reader};
use yaxpeax_arm::armv8::a64::{InstDecoder, Opcode, Operand};

/// One instruction the scan reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Its offset in the image (RVA).
    pub rva: u32,
    /// The section it lies in.
    pub section: String,
    /// Its bytes, as hex.
    pub bytes: String,
    /// The instruction (Intel syntax on x64), or `(bad)`.
    pub text: String,
    /// Why it cannot run in user mode, or why it is reported.
    pub why: &'static str,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "+{:#x} ({}): {} [{}]: {}",
            self.rva, self.section, self.text, self.bytes, self.why
        )
    }
}

/// What the scan of one image found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Instructions that cannot run in user mode.
    pub privileged: Vec<Finding>,
    /// Bytes that do not decode as an instruction.
    pub undecodable: Vec<Finding>,
    /// Instructions decoded, in every executable section.
    pub instructions: usize,
    /// The executable sections scanned, by name.
    pub sections: Vec<String>,
}

impl Scan {
    /// Nothing privileged and nothing undecodable.
    pub fn is_clean(&self) -> bool {
        self.privileged.is_empty() && self.undecodable.is_empty()
    }
}

impl fmt::Display for Scan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} instructions in {:?}: {} privileged, {} undecodable",
            self.instructions,
            self.sections,
            self.privileged.len(),
            self.undecodable.len()
        )?;
        for finding in self.privileged.iter().chain(&self.undecodable) {
            writeln!(f, "  {finding}")?;
        }
        Ok(())
    }
}

/// Scans every executable section of the PE image in `bytes`.
///
/// # Errors
///
/// The image does not parse, a section's data lies outside the file, or the
/// machine is neither AMD64 nor ARM64.
pub fn scan(bytes: &[u8]) -> Result<Scan, String> {
    let pe = PeImage::parse(bytes).map_err(|e| e.to_string())?;
    let machine = pe.machine();
    let mut out = Scan::default();
    for section in pe.sections() {
        if section.characteristics & scn::MEM_EXECUTE == 0 {
            continue;
        }
        let name = section.name_str().unwrap_or("?").to_owned();
        let data = pe.section_data(section).map_err(|e| e.to_string())?;
        // The code is VirtualSize bytes; the file pads the rest with zeros
        // to FileAlignment, which are not code.
        let len = data.len().min(section.virtual_size as usize);
        let code = &data[..len];
        match machine {
            Machine::Amd64 => scan_x64(code, section.virtual_address, &name, &mut out),
            Machine::Arm64 => scan_arm64(code, section.virtual_address, &name, &mut out),
            other => return Err(format!("machine {:#06x}: no decoder", other.raw())),
        }
        out.sections.push(name);
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------
// x64
// ---------------------------------------------------------------------------

fn scan_x64(code: &[u8], rva: u32, section: &str, out: &mut Scan) {
    let mut decoder = Decoder::with_ip(64, code, u64::from(rva), DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    let mut instruction = Instruction::default();
    while decoder.can_decode() {
        let start = decoder.position();
        decoder.decode_out(&mut instruction);
        let at = u32::try_from(instruction.ip()).unwrap_or(u32::MAX);
        if instruction.is_invalid() {
            // Report the first byte and resume at the next one: the sweep
            // resynchronises byte by byte, as a disassembler does.
            out.undecodable.push(Finding {
                rva: at,
                section: section.to_owned(),
                bytes: hex(&code[start..=start]),
                text: "(bad)".to_owned(),
                why: "does not decode as an x64 instruction",
            });
            let next = start + 1;
            if decoder.set_position(next).is_err() {
                break;
            }
            decoder.set_ip(u64::from(at) + 1);
            continue;
        }
        let bytes = &code[start..start + instruction.len()];
        out.instructions += 1;
        if let Some(why) = x64_privileged(&instruction) {
            let mut text = String::new();
            formatter.format(&instruction, &mut text);
            out.privileged.push(Finding {
                rva: at,
                section: section.to_owned(),
                bytes: hex(bytes),
                text,
                why,
            });
        }
    }
}

/// Why `i` cannot run in user mode (or must come from ntoskrnl), if so.
fn x64_privileged(i: &Instruction) -> Option<&'static str> {
    use Mnemonic as M;
    let why = match i.mnemonic() {
        M::Cli | M::Sti => "interrupt flag control (CPL0): raise the IRQL through ntoskrnl instead",
        M::Hlt => "halts the CPU (CPL0)",
        M::In | M::Out | M::Insb | M::Insw | M::Insd | M::Outsb | M::Outsw | M::Outsd => {
            "port I/O (IOPL): use the HAL's READ_PORT_*/WRITE_PORT_*"
        }
        M::Rdmsr | M::Wrmsr | M::Wrmsrns | M::Rdmsrlist | M::Wrmsrlist => "model-specific register access (CPL0)",
        M::Swapgs => "swapgs (CPL0): the kernel's gs switch",
        M::Lgdt | M::Lidt | M::Lldt | M::Ltr | M::Lmsw | M::Clts => "descriptor-table or control-register load (CPL0)",
        M::Sgdt | M::Sidt | M::Sldt | M::Str | M::Smsw => "system-structure read (faults under UMIP in user mode)",
        M::Invlpg | M::Invlpga | M::Invlpgb | M::Tlbsync | M::Invpcid | M::Invd | M::Wbinvd | M::Wbnoinvd => {
            "TLB or cache control (CPL0)"
        }
        M::Rdpmc => "performance-counter read (CPL0 unless CR4.PCE)",
        M::Iret | M::Iretd | M::Iretq | M::Sysret | M::Sysretq | M::Sysexit | M::Sysexitq | M::Erets | M::Eretu => {
            "return from an interrupt or system call (the kernel's own path)"
        }
        M::Syscall | M::Sysenter | M::Int | M::Int1 | M::Into => {
            "a system call or software interrupt: a driver calls ntoskrnl"
        }
        M::Wrfsbase | M::Wrgsbase | M::Rdfsbase | M::Rdgsbase | M::Lkgs => "segment-base access (the KPCR's gs base)",
        M::Lfs | M::Lgs | M::Lss => "segment-register load",
        M::Popf | M::Popfq => "popf restores the interrupt flag (CPL0 only has effect)",
        M::Clac | M::Stac => "SMAP control (CPL0)",
        M::Xsaves | M::Xsaves64 | M::Xrstors | M::Xrstors64 | M::Xsetbv => "supervisor state save/restore (CPL0)",
        M::Monitor | M::Mwait => "monitor/mwait (CPL0)",
        M::Vmcall
        | M::Vmlaunch
        | M::Vmresume
        | M::Vmxon
        | M::Vmxoff
        | M::Vmread
        | M::Vmwrite
        | M::Vmptrld
        | M::Vmptrst
        | M::Vmclear
        | M::Invept
        | M::Invvpid
        | M::Seamcall
        | M::Pconfig => "virtualization control (VMX root)",
        _ => return x64_operands(i),
    };
    Some(why)
}

/// `register` lies in `first..=last` of iced's register numbering (the
/// `is_cr`/`is_dr` helpers need iced's `instr_info` feature, not worth a
/// second decoder table for three ranges).
fn in_range(register: Register, first: Register, last: Register) -> bool {
    (first as u32..=last as u32).contains(&(register as u32))
}

/// The operand-level checks: CR/DR moves, segment-register writes, and
/// `fs:`/`gs:` memory.
fn x64_operands(i: &Instruction) -> Option<&'static str> {
    let registers = (0..i.op_count()).filter(|&n| i.op_kind(n) == OpKind::Register);
    for n in registers {
        let register = i.op_register(n);
        if in_range(register, Register::CR0, Register::CR15) {
            return Some("control-register access (CPL0): CR8 is the IRQL, get it from KeGetCurrentIrql");
        }
        if in_range(register, Register::DR0, Register::DR15) {
            return Some("debug-register access (CPL0)");
        }
        if n == 0 && in_range(register, Register::ES, Register::GS) && i.mnemonic() == Mnemonic::Mov {
            return Some("segment-register load");
        }
        if n == 0 && matches!(register, Register::FS | Register::GS) && i.mnemonic() == Mnemonic::Pop {
            return Some("segment-register load");
        }
    }
    let memory = (0..i.op_count()).any(|n| {
        matches!(
            i.op_kind(n),
            OpKind::Memory
                | OpKind::MemorySegSI
                | OpKind::MemorySegESI
                | OpKind::MemorySegRSI
                | OpKind::MemorySegDI
                | OpKind::MemorySegEDI
                | OpKind::MemorySegRDI
        )
    });
    if memory && matches!(i.memory_segment(), Register::FS | Register::GS) {
        return Some("fs:/gs:-relative access: per-CPU (KPCR) or thread (TEB) data; ask ntoskrnl");
    }
    None
}

// ---------------------------------------------------------------------------
// ARM64
// ---------------------------------------------------------------------------

/// `op1` of a 15-bit system register number as yaxpeax-arm packs it
/// (`o0:op1:CRn:CRm:op2`).
fn sysreg_op1(reg: u16) -> u16 {
    (reg >> 11) & 0b111
}

fn scan_arm64(code: &[u8], rva: u32, section: &str, out: &mut Scan) {
    let decoder = InstDecoder {};
    let mut offset = 0usize;
    while offset < code.len() {
        let at = rva.wrapping_add(u32::try_from(offset).unwrap_or(u32::MAX));
        let Some(word) = code.get(offset..offset + 4) else {
            out.undecodable.push(Finding {
                rva: at,
                section: section.to_owned(),
                bytes: hex(&code[offset..]),
                text: "(bad)".to_owned(),
                why: "a trailing partial instruction word",
            });
            break;
        };
        offset += 4;
        let mut reader = U8Reader::new(word);
        match decoder.decode(&mut reader) {
            Err(e) => out.undecodable.push(Finding {
                rva: at,
                section: section.to_owned(),
                bytes: hex(word),
                text: "(bad)".to_owned(),
                why: if e == yaxpeax_arm::armv8::a64::DecodeError::InvalidOpcode {
                    "does not decode as an A64 instruction (invalid opcode)"
                } else {
                    "does not decode as an A64 instruction"
                },
            }),
            Ok(instruction) => {
                out.instructions += 1;
                if let Some(why) = arm64_privileged(&instruction) {
                    out.privileged.push(Finding {
                        rva: at,
                        section: section.to_owned(),
                        bytes: hex(word),
                        text: instruction.to_string(),
                        why,
                    });
                }
            }
        }
    }
}

fn arm64_privileged(i: &yaxpeax_arm::armv8::a64::Instruction) -> Option<&'static str> {
    let why = match i.opcode {
        Opcode::MRS | Opcode::MSR => {
            let sysreg = i.operands.iter().find_map(|o| match o {
                Operand::SystemReg(r) => Some(*r),
                _ => None,
            });
            let pstate = i.operands.iter().find_map(|o| match o {
                Operand::PstateField(p) => Some(*p),
                _ => None,
            });
            match (sysreg, pstate) {
                (Some(r), _) if sysreg_op1(r) != 3 => "system register outside EL0's space (EL1+)",
                // op1:op2 = 3:1 SSBS, 3:2 DIT, 3:4 TCO are EL0-writable;
                // 3:6/3:7 are DAIFSet/DAIFClr (interrupt masking).
                (_, Some(p)) if !matches!(p, 0x19 | 0x1a | 0x1c) => "PSTATE write (interrupt masking, PAN...) (EL1)",
                _ => return arm64_x18(i),
            }
        }
        Opcode::SYS(ops) | Opcode::SYSL(ops) if ops.op1() != 3 => {
            "system instruction outside EL0's space (TLBI, AT...)"
        }
        Opcode::ERET | Opcode::ERETAA | Opcode::ERETAB => "exception return (EL1+)",
        Opcode::HVC | Opcode::SMC => "hypervisor or secure-monitor call",
        Opcode::SVC => "a system call: a driver calls ntoskrnl",
        Opcode::HLT | Opcode::DCPS1 | Opcode::DCPS2 | Opcode::DCPS3 => "halting debug (EL1+)",
        Opcode::HINT if matches!(i.operands, [Operand::ControlReg(0), Operand::Immediate(3), ..]) => {
            "wfi: waits for an interrupt (traps at EL0)"
        }
        _ => return arm64_x18(i),
    };
    Some(why)
}

/// Any operand naming x18, the platform register (KPCR in the kernel).
fn arm64_x18(i: &yaxpeax_arm::armv8::a64::Instruction) -> Option<&'static str> {
    let uses_x18 = i.operands.iter().any(|o| match *o {
        Operand::Register(_, r)
        | Operand::RegisterOrSP(_, r)
        | Operand::RegShift(_, _, _, r)
        | Operand::RegPreIndex(r, _, _)
        | Operand::RegPostIndex(r, _) => r == 18,
        Operand::RegisterPair(_, r) => r == 18 || r == 17,
        Operand::RegRegOffset(a, b, ..) | Operand::RegPostIndexReg(a, b) => a == 18 || b == 18,
        _ => false,
    });
    uses_x18.then_some("x18 is the platform register (the KPCR in the kernel): per-CPU data comes from ntoskrnl")
}
