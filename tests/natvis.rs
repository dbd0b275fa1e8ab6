//! The natvis embedded in covmini.pdb (`src/covmini.natvis`, issue #13).
//!
//! Builds the kernel images with `scripts/build-kernel.sh all` (once per test
//! process; cargo does nothing when `tests/kernel_image.rs` or
//! `tests/privileged.rs` built them already) and reads each `covmini.pdb`
//! with the `pdb` crate, a real PDB (MSF) reader. It proves:
//!
//! 1. **The natvis is in the PDB.** The linker (rust-lld here, link.exe in
//!    the WDK build) stores a `/NATVIS` file as an *injected source*: a named
//!    stream `/src/files/<virtual path>` holding the file, listed in the
//!    `/src/headerblock` stream, whose entries name the file through the
//!    `/names` string table. The test finds the headerblock entry of a
//!    `.natvis` file, follows its virtual name to the stream, and compares
//!    the stream with `src/covmini.natvis` byte for byte.
//! 2. **Every type it names exists** in the PDB's type stream (TPI), as a
//!    complete (not forward-reference) struct, union or enum of exactly that
//!    name.
//! 3. **Every member it names exists in that type**, by the rule below.
//!
//! # The member-extraction rule
//!
//! Every expression of the natvis is parsed and typed against the PDB:
//! `DisplayString` text between unescaped braces (`{{`/`}}` are literal),
//! the text of `Item`, `ExpandedItem`, `Size`, `ValueNode`, `ValuePointer`
//! and `Exec`, and the `Condition` and `InitialValue` attributes. A format
//! specifier after the last top-level comma (`,x`, `,c`, `,en`, `,[n]x`) is
//! removed, and an expression inside its `[...]` is checked too.
//!
//! Expressions are C++ as the debugger evaluates them: identifiers, numbers,
//! casts `(Type*)e` and `(char)e`, `sizeof(e)`, unary `! - ~ & *`, binary
//! arithmetic, shifts, comparisons, `&& ||`, assignment (in `Exec`), and the
//! postfix operators `.m`, `->m` and `[e]`. Each sub-expression gets a type:
//! a record (struct or union of the PDB, by name), a pointer to or array of
//! one, or a scalar. Then:
//!
//! * a bare identifier is a `CustomListItems` `Variable`, `$i`, `this`, or
//!   else a member of the visualized type;
//! * `e.m` needs `e` to be a record with member `m`;
//! * `e->m` needs `e` to be a pointer to a record with member `m`;
//! * `e[i]` needs `e` to be a pointer or an array;
//! * `(T*)e` needs `T` to be a record of the PDB (or a C scalar type).
//!
//! Members are the record's `LF_MEMBER` and `LF_STMEMBER` entries (the
//! latter are the `NAME`/`DISCR_*` constants of rustc's `enum2$` variants).
//! Anything the checker cannot parse is an error, so nothing goes unchecked.
//!
//! What this does NOT prove: that WinDbg renders the natvis as intended.
//! That needs Windows and is listed as unverified in docs/windows.md.

#[path = "common/kernel_build.rs"]
mod kernel_build;
use kernel_build::{build_kernel_images, repo};

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use pdb::FallibleIterator;

/// The natvis as committed.
fn natvis_source() -> String {
    let path = repo().join("src/covmini.natvis");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What one PDB holds that the checks need, read once per architecture.
struct Pdb {
    /// The injected `.natvis` sources: (virtual name, content).
    natvis: Vec<(String, Vec<u8>)>,
    types: Types,
}

fn pdb_of(arch: &str) -> &'static Pdb {
    static X64: OnceLock<Pdb> = OnceLock::new();
    static ARM64: OnceLock<Pdb> = OnceLock::new();
    let cell = match arch {
        "x64" => &X64,
        "arm64" => &ARM64,
        other => panic!("unknown architecture {other}"),
    };
    cell.get_or_init(|| {
        build_kernel_images();
        let path = repo().join("target/kernel").join(arch).join("covmini.pdb");
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut pdb = pdb::PDB::open(file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let natvis = injected_natvis(&mut pdb).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let types = Types::read(&mut pdb).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Pdb { natvis, types }
    })
}

// ===========================================================================
// 1. The injected sources
// ===========================================================================

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, String> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("/src/headerblock: truncated at byte {at}"))
}

/// The `.natvis` files the PDB's injected-source table lists, with the
/// content of the stream each one names.
///
/// `/src/headerblock` (LLVM's `SrcHeaderBlockHeader`, then a serialized
/// `HashTable<SrcHeaderBlockEntry>`): a 64-byte header (version, size,
/// file time, age, padding); the table's size and capacity; the present and
/// deleted bit vectors (a word count, then the words); then one
/// (key, entry) pair per present bucket. An entry is 40 bytes: size,
/// version, CRC, file size, file name, object name and virtual file name
/// (offsets into `/names`), compression, is-virtual, padding, reserved.
/// The file's content is the named stream `/src/files/<virtual name>`.
fn injected_natvis(pdb: &mut pdb::PDB<'_, std::fs::File>) -> Result<Vec<(String, Vec<u8>)>, String> {
    let header = pdb
        .named_stream(b"/src/headerblock")
        .map_err(|e| format!("/src/headerblock: {e}"))?;
    let bytes = header.as_slice().to_vec();
    let declared = u32_at(&bytes, 4)? as usize;
    if declared != bytes.len() {
        return Err(format!(
            "/src/headerblock: size field {declared}, stream {} bytes",
            bytes.len()
        ));
    }
    let mut at = 64;
    let size = u32_at(&bytes, at)? as usize;
    at += 8; // size, capacity
    for _ in 0..2 {
        // present, then deleted bit vector
        let words = u32_at(&bytes, at)? as usize;
        at += 4 + 4 * words;
    }
    let strings = pdb.string_table().map_err(|e| format!("/names: {e}"))?;
    let mut vnames = Vec::new();
    for _ in 0..size {
        let entry = at + 4; // after the key
        let entry_size = u32_at(&bytes, entry)?;
        if entry_size != 40 {
            return Err(format!("/src/headerblock: entry of {entry_size} bytes, expected 40"));
        }
        let file_size = u32_at(&bytes, entry + 12)? as usize;
        let vfile = u32_at(&bytes, entry + 24)?;
        let vname = pdb::StringRef(vfile)
            .to_string_lossy(&strings)
            .map_err(|e| format!("/names[{vfile}]: {e}"))?
            .into_owned();
        vnames.push((vname, file_size));
        at = entry + 40;
    }
    drop(strings);

    let info = pdb.pdb_information().map_err(|e| format!("PDB info stream: {e}"))?;
    let names = info.stream_names().map_err(|e| format!("PDB stream names: {e}"))?;
    let streams: Vec<(String, pdb::StreamIndex)> = names
        .iter()
        .map(|n| (n.name.to_string().into_owned(), n.stream_id))
        .collect();
    let mut natvis = Vec::new();
    for (vname, file_size) in vnames {
        if !vname.to_ascii_lowercase().ends_with(".natvis") {
            continue;
        }
        let wanted = format!("/src/files/{vname}");
        let (_, index) = streams
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&wanted))
            .ok_or_else(|| format!("headerblock names {vname}, but there is no stream {wanted}"))?;
        let stream = pdb
            .raw_stream(*index)
            .map_err(|e| format!("{wanted}: {e}"))?
            .ok_or_else(|| format!("{wanted}: no such stream"))?;
        let content = stream.as_slice().to_vec();
        if content.len() != file_size {
            return Err(format!(
                "{wanted}: {} bytes, headerblock says {file_size}",
                content.len()
            ));
        }
        natvis.push((vname, content));
    }
    Ok(natvis)
}

// ===========================================================================
// 2. The type stream
// ===========================================================================

/// The PDB's records by name, with their members.
struct Types {
    /// Complete struct/union definitions: name -> member name -> type index.
    records: HashMap<String, HashMap<String, u32>>,
    /// Complete enum definitions (C-like Rust enums).
    enums: BTreeSet<String>,
    /// Every type record by index, for following a member's type.
    by_index: HashMap<u32, Node>,
}

/// What the checker needs of one type record.
#[derive(Clone)]
enum Node {
    Record(String),
    Pointer(u32),
    Modifier(u32),
    Array(u32),
    Scalar,
}

/// One LF_FIELDLIST: its (member name, type index) pairs, and the record
/// it continues in (LF_INDEX), if any.
type FieldListRecord = (Vec<(String, u32)>, Option<u32>);

/// The type of a sub-expression.
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Record(String),
    Pointer(Box<Ty>),
    Array(Box<Ty>),
    Scalar,
}

impl Types {
    fn read(pdb: &mut pdb::PDB<'_, std::fs::File>) -> Result<Self, String> {
        let info = pdb.type_information().map_err(|e| format!("TPI: {e}"))?;
        let mut iter = info.iter();
        let mut field_lists: HashMap<u32, FieldListRecord> = HashMap::new();
        let mut pending: Vec<(String, u32, bool)> = Vec::new(); // (name, field list, is enum)
        let mut by_index = HashMap::new();
        while let Some(item) = iter.next().map_err(|e| format!("TPI: {e}"))? {
            let index = item.index().0;
            let Ok(data) = item.parse() else {
                continue; // a record kind the crate does not parse: never one the natvis names
            };
            let node = match data {
                pdb::TypeData::Class(c) => {
                    if let (false, Some(fields)) = (c.properties.forward_reference(), c.fields) {
                        pending.push((c.name.to_string().into_owned(), fields.0, false));
                    }
                    Node::Record(c.name.to_string().into_owned())
                }
                pdb::TypeData::Union(u) => {
                    if !u.properties.forward_reference() {
                        pending.push((u.name.to_string().into_owned(), u.fields.0, false));
                    }
                    Node::Record(u.name.to_string().into_owned())
                }
                pdb::TypeData::Enumeration(e) => {
                    if !e.properties.forward_reference() {
                        pending.push((e.name.to_string().into_owned(), e.fields.0, true));
                    }
                    Node::Scalar
                }
                pdb::TypeData::FieldList(list) => {
                    let members = list
                        .fields
                        .iter()
                        .filter_map(|f| match f {
                            pdb::TypeData::Member(m) => Some((m.name.to_string().into_owned(), m.field_type.0)),
                            pdb::TypeData::StaticMember(m) => Some((m.name.to_string().into_owned(), m.field_type.0)),
                            _ => None,
                        })
                        .collect();
                    field_lists.insert(index, (members, list.continuation.map(|c| c.0)));
                    Node::Scalar
                }
                pdb::TypeData::Pointer(p) => Node::Pointer(p.underlying_type.0),
                pdb::TypeData::Modifier(m) => Node::Modifier(m.underlying_type.0),
                pdb::TypeData::Array(a) => Node::Array(a.element_type.0),
                _ => Node::Scalar,
            };
            by_index.insert(index, node);
        }
        let mut records: HashMap<String, HashMap<String, u32>> = HashMap::new();
        let mut enums = BTreeSet::new();
        for (name, mut list, is_enum) in pending {
            if is_enum {
                enums.insert(name);
                continue;
            }
            let members = records.entry(name).or_default();
            // A long field list continues in another record (LF_INDEX).
            let mut hops = 0;
            while let Some((fields, next)) = field_lists.get(&list) {
                members.extend(fields.iter().cloned());
                match next {
                    Some(n) if hops < 64 => {
                        list = *n;
                        hops += 1;
                    }
                    _ => break,
                }
            }
        }
        Ok(Types {
            records,
            enums,
            by_index,
        })
    }

    /// The type of the value a type index describes.
    fn ty(&self, index: u32) -> Ty {
        if index < 0x1000 {
            // Primitive: bits 8..11 are the pointer mode (0 = direct).
            return if (index >> 8) & 0xf != 0 {
                Ty::Pointer(Box::new(Ty::Scalar))
            } else {
                Ty::Scalar
            };
        }
        match self.by_index.get(&index) {
            Some(Node::Record(name)) => Ty::Record(name.clone()),
            Some(Node::Pointer(to)) => Ty::Pointer(Box::new(self.ty(*to))),
            Some(Node::Modifier(of)) => self.ty(*of),
            Some(Node::Array(of)) => Ty::Array(Box::new(self.ty(*of))),
            Some(Node::Scalar) | None => Ty::Scalar,
        }
    }

    fn member(&self, record: &str, member: &str) -> Result<Ty, String> {
        let members = self
            .records
            .get(record)
            .ok_or_else(|| format!("type `{record}` is not defined in the PDB"))?;
        members
            .get(member)
            .map(|&index| self.ty(index))
            .ok_or_else(|| format!("type `{record}` has no member `{member}`"))
    }
}

// ===========================================================================
// 3. The natvis against the types
// ===========================================================================

/// C scalar types a cast may name.
const C_SCALARS: &[&str] = &[
    "char",
    "unsigned char",
    "signed char",
    "short",
    "unsigned short",
    "int",
    "unsigned int",
    "unsigned",
    "long",
    "unsigned long",
    "__int64",
    "unsigned __int64",
    "void",
    "bool",
];

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Num,
    Punct(&'static str),
    /// A parenthesised cast: the type name and whether it is a pointer.
    Cast(String, bool),
}

const PUNCTS: &[&str] = &[
    "->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "++", "--", "(", ")", "[", "]", ".", ",", "+", "-", "*", "/",
    "%", "<", ">", "&", "|", "^", "!", "~", "=", "?", ":",
];

fn tokenize(expr: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            toks.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            toks.push(Tok::Num);
        } else if c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&c| c == '\'')
                .ok_or_else(|| format!("unterminated character literal in `{expr}`"))?;
            i += end + 2;
            toks.push(Tok::Num);
        } else if c == '(' {
            // A cast is `(` type-name `*`? `)` where the type name is a PDB
            // record (a pointer cast), a C scalar, or a Rust path (a cast of
            // a code to its enum, which the debugger shows by name);
            // anything else is a parenthesis.
            let close = matching_paren(&chars, i).ok_or_else(|| format!("unbalanced `(` in `{expr}`"))?;
            let inner: String = chars[i + 1..close].iter().collect();
            let inner = inner.trim();
            let (name, pointer) = match inner.strip_suffix('*') {
                Some(name) => (name.trim_end(), true),
                None => (inner, false),
            };
            let rust_path = name.contains("::") && !name.contains(['(', ')', '.', '[', '-']);
            if pointer || C_SCALARS.contains(&name) || rust_path {
                toks.push(Tok::Cast(name.to_string(), pointer));
                i = close + 1;
            } else {
                toks.push(Tok::Punct("("));
                i += 1;
            }
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let p = PUNCTS
                .iter()
                .find(|p| rest.starts_with(**p))
                .ok_or_else(|| format!("unexpected `{c}` in `{expr}`"))?;
            toks.push(Tok::Punct(p));
            i += p.len();
        }
    }
    Ok(toks)
}

fn matching_paren(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Binary operators by precedence, loosest first.
const BINARY: &[&[&str]] = &[
    &["="],
    &["||"],
    &["&&"],
    &["|"],
    &["^"],
    &["&"],
    &["==", "!="],
    &["<", ">", "<=", ">="],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "%"],
];

/// Types one expression against the visualized record.
struct Checker<'a> {
    types: &'a Types,
    this: &'a str,
    variables: &'a BTreeSet<String>,
    toks: Vec<Tok>,
    at: usize,
}

impl Checker<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> Result<(), String> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(format!("expected `{p}` at token {} of {:?}", self.at, self.toks))
        }
    }

    fn binary(&mut self, level: usize) -> Result<Ty, String> {
        let Some(ops) = BINARY.get(level) else {
            return self.unary();
        };
        let mut left = self.binary(level + 1)?;
        while ops
            .iter()
            .any(|op| matches!(self.peek(), Some(Tok::Punct(q)) if q == op))
        {
            self.at += 1;
            self.binary(level + 1)?;
            left = Ty::Scalar;
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Ty, String> {
        match self.peek().cloned() {
            Some(Tok::Punct("!" | "-" | "~")) => {
                self.at += 1;
                self.unary()?;
                Ok(Ty::Scalar)
            }
            Some(Tok::Punct("&")) => {
                self.at += 1;
                Ok(Ty::Pointer(Box::new(self.unary()?)))
            }
            Some(Tok::Punct("*")) => {
                self.at += 1;
                match self.unary()? {
                    Ty::Pointer(to) | Ty::Array(to) => Ok(*to),
                    other => Err(format!("`*` applied to {other:?}")),
                }
            }
            Some(Tok::Cast(name, pointer)) => {
                self.at += 1;
                self.unary()?;
                let base = if C_SCALARS.contains(&name.as_str()) || (!pointer && self.types.enums.contains(&name)) {
                    Ty::Scalar
                } else if self.types.records.contains_key(&name) {
                    Ty::Record(name)
                } else {
                    return Err(format!("cast to `{name}`, a type the PDB does not define"));
                };
                Ok(if pointer { Ty::Pointer(Box::new(base)) } else { base })
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Ty, String> {
        let mut ty = self.primary()?;
        loop {
            if self.eat(".") {
                let member = self.ident()?;
                ty = match ty {
                    Ty::Record(record) => self.types.member(&record, &member)?,
                    other => return Err(format!("`.{member}` applied to {other:?}")),
                };
            } else if self.eat("->") {
                let member = self.ident()?;
                ty = match ty {
                    Ty::Pointer(to) => match *to {
                        Ty::Record(record) => self.types.member(&record, &member)?,
                        other => return Err(format!("`->{member}` applied to a pointer to {other:?}")),
                    },
                    other => return Err(format!("`->{member}` applied to {other:?}")),
                };
            } else if self.eat("[") {
                self.binary(0)?;
                self.expect("]")?;
                ty = match ty {
                    Ty::Pointer(to) | Ty::Array(to) => *to,
                    other => return Err(format!("`[]` applied to {other:?}")),
                };
            } else if self.eat("++") || self.eat("--") {
                ty = Ty::Scalar;
            } else {
                return Ok(ty);
            }
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Tok::Ident(name)) => {
                self.at += 1;
                Ok(name)
            }
            other => Err(format!("expected a member name, found {other:?}")),
        }
    }

    fn primary(&mut self) -> Result<Ty, String> {
        match self.peek().cloned() {
            Some(Tok::Num) => {
                self.at += 1;
                Ok(Ty::Scalar)
            }
            Some(Tok::Punct("(")) => {
                self.at += 1;
                let ty = self.binary(0)?;
                self.expect(")")?;
                Ok(ty)
            }
            Some(Tok::Ident(name)) if name == "sizeof" => {
                self.at += 1;
                self.expect("(")?;
                self.binary(0)?;
                self.expect(")")?;
                Ok(Ty::Scalar)
            }
            Some(Tok::Ident(name)) => {
                self.at += 1;
                if name == "this" {
                    Ok(Ty::Pointer(Box::new(Ty::Record(self.this.to_string()))))
                } else if name.starts_with('$') || self.variables.contains(&name) {
                    Ok(Ty::Scalar)
                } else {
                    self.types.member(self.this, &name)
                }
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// Removes a trailing format specifier (after the last top-level comma);
/// returns the expression and the one inside the specifier's `[...]`.
fn split_format(expr: &str) -> (&str, Option<&str>) {
    let mut depth = 0i32;
    let mut last_comma = None;
    for (i, c) in expr.char_indices() {
        match c {
            // Not `<`/`>`: they are also shift and comparison operators;
            // the commas of a type name sit inside a cast's parentheses.
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => last_comma = Some(i),
            _ => {}
        }
    }
    let Some(comma) = last_comma else {
        return (expr, None);
    };
    let spec = expr[comma + 1..].trim();
    let inner = spec.strip_prefix('[').and_then(|s| s.find(']').map(|end| &s[..end]));
    (&expr[..comma], inner)
}

fn check_expression(types: &Types, this: &str, variables: &BTreeSet<String>, expr: &str) -> Result<(), String> {
    let (main, inner) = split_format(expr);
    for part in std::iter::once(main).chain(inner) {
        let toks = tokenize(part)?;
        let mut checker = Checker {
            types,
            this,
            variables,
            toks,
            at: 0,
        };
        checker.binary(0)?;
        if checker.at != checker.toks.len() {
            return Err(format!("cannot parse past token {} of `{part}`", checker.at));
        }
    }
    Ok(())
}

/// The `{...}` expressions of a DisplayString (`{{` and `}}` are literal).
fn display_expressions(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with("{{") || rest[open..].starts_with("}}") {
            rest = &rest[open + 2..];
            continue;
        }
        if rest[open..].starts_with('}') {
            return Err(format!("unbalanced `}}` in `{text}`"));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("unbalanced `{{` in `{text}`"))?;
        out.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    Ok(out)
}

/// What checking a natvis found: the types it names, and every finding.
#[derive(Debug)]
struct Report {
    types: Vec<String>,
    expressions: usize,
    errors: Vec<String>,
}

/// Checks a natvis document against the PDB's types, by the rule in the
/// module docs.
fn check_natvis(types: &Types, natvis: &str) -> Report {
    let mut report = Report {
        types: Vec::new(),
        expressions: 0,
        errors: Vec::new(),
    };
    let doc = match roxmltree::Document::parse(natvis) {
        Ok(doc) => doc,
        Err(e) => {
            report.errors.push(format!("not XML: {e}"));
            return report;
        }
    };
    for ty in doc.descendants().filter(|n| n.has_tag_name("Type")) {
        let Some(name) = ty.attribute("Name") else {
            report.errors.push("a <Type> without Name".to_string());
            continue;
        };
        report.types.push(name.to_string());
        if !types.records.contains_key(name) && !types.enums.contains(name) {
            report
                .errors
                .push(format!("<Type Name=\"{name}\">: not a type of the PDB"));
            continue;
        }
        let variables: BTreeSet<String> = ty
            .descendants()
            .filter(|n| n.has_tag_name("Variable"))
            .filter_map(|n| n.attribute("Name").map(str::to_string))
            .collect();
        let mut expressions: Vec<String> = Vec::new();
        for node in ty.descendants().filter(|n| n.is_element()) {
            for attr in ["Condition", "InitialValue"] {
                if let Some(e) = node.attribute(attr) {
                    expressions.push(e.to_string());
                }
            }
            let text = node.text().unwrap_or("").trim();
            match node.tag_name().name() {
                "DisplayString" => match display_expressions(text) {
                    Ok(list) => expressions.extend(list.into_iter().map(str::to_string)),
                    Err(e) => report.errors.push(format!("{name}: {e}")),
                },
                "Item" | "ExpandedItem" | "Size" | "ValueNode" | "ValuePointer" | "Exec" => {
                    expressions.push(text.to_string());
                }
                _ => {}
            }
        }
        for expr in expressions {
            report.expressions += 1;
            if let Err(e) = check_expression(types, name, &variables, &expr) {
                report.errors.push(format!("{name}: `{expr}`: {e}"));
            }
        }
    }
    report
}

// ===========================================================================
// Tests
// ===========================================================================

/// The contexts and tables the natvis must cover (issue #13).
const COVERED: &[&str] = &[
    "covmini::ffi::context::AdapterContext",
    "covmini::ffi::cm_context::AfContext",
    "covmini::ffi::cm_context::SapContext",
    "covmini::ffi::cm_context::VcContext",
    "covmini::ffi::call_block::CallBlock",
    "covmini::ffi::cm_context::PartyContext",
    "covmini::call_manager::CallManager<usize>",
    "covmini::call_manager::table::Table<covmini::call_manager::vc::VcSlot<usize> >",
    // The flight recorder's ring and its records (newest first).
    "covmini::ffi::flight::Ring",
    "covmini::ffi::flight::Slot",
];

fn assert_natvis_matches(arch: &str) {
    let pdb = pdb_of(arch);
    let source = natvis_source();
    let ours: Vec<&(String, Vec<u8>)> = pdb
        .natvis
        .iter()
        .filter(|(_, content)| content.as_slice() == source.as_bytes())
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "{arch}: covmini.pdb must hold src/covmini.natvis once as an injected source; it holds {:?}",
        pdb.natvis.iter().map(|(n, c)| (n, c.len())).collect::<Vec<_>>()
    );
    let report = check_natvis(&pdb.types, &source);
    assert!(
        report.errors.is_empty(),
        "{arch}: the natvis does not match the PDB:\n{}",
        report.errors.join("\n")
    );
    for covered in COVERED {
        assert!(
            report.types.iter().any(|t| t == covered),
            "{arch}: the natvis has no <Type> for {covered}"
        );
    }
    // Sanity: the check looked at the whole file, not an empty sweep.
    assert!(
        report.expressions > 100,
        "{arch}: only {} expressions checked",
        report.expressions
    );
}

/// x64: the natvis is embedded in covmini.pdb, and every type and member
/// it names exists in the PDB's types.
#[test]
fn x64_pdb_holds_the_natvis_and_its_types() {
    assert_natvis_matches("x64");
}

/// ARM64: as for x64 (the same rustc, the same linker, other layouts).
#[test]
fn arm64_pdb_holds_the_natvis_and_its_types() {
    assert_natvis_matches("arm64");
}

/// The check fails on a natvis that names a type the PDB lacks, a member a
/// type lacks (directly, behind `->`, inside a cast, inside a format
/// specifier), a cast of a code to an enum the PDB lacks, or an expression
/// it cannot parse; and passes on the same
/// natvis with correct names (so the failures come from the names alone).
#[test]
fn check_rejects_wrong_names_against_the_real_pdb() {
    let types = &pdb_of("x64").types;
    let wrap = |ty: &str, body: &str| {
        format!(
            "<AutoVisualizer xmlns=\"http://schemas.microsoft.com/vstudio/debugger/natvis/2010\">\
             <Type Name=\"{ty}\">{body}</Type></AutoVisualizer>"
        )
    };
    let vc = "covmini::ffi::cm_context::VcContext";
    let good = [
        wrap(vc, "<DisplayString>{id.v.value} {{literal}}</DisplayString>"),
        wrap(
            vc,
            "<Expand><Item Name=\"a\">((covmini::ffi::context::AdapterContext*)adapter.to.pointer)-&gt;counters.bytes_rcv.v.value</Item></Expand>",
        ),
        wrap(
            vc,
            "<Expand><Item Name=\"c\">((covmini::ffi::call_block::CallBlock*)call.p.value)-&gt;signature</Item></Expand>",
        ),
        wrap(vc, "<DisplayString>{counters,[id.v.value]x}</DisplayString>"),
        wrap(
            "covmini::ffi::flight::Slot",
            "<DisplayString>{(covmini::flight::event::Handler)code.v.value}</DisplayString>",
        ),
    ];
    for natvis in &good {
        let report = check_natvis(types, natvis);
        assert!(report.errors.is_empty(), "{natvis}: {:?}", report.errors);
    }
    let bad = [
        (
            wrap(
                "covmini::ffi::cm_context::NoSuchContext",
                "<DisplayString>x</DisplayString>",
            ),
            "not a type of the PDB",
        ),
        (
            wrap(vc, "<DisplayString>{no_such_field}</DisplayString>"),
            "no member `no_such_field`",
        ),
        (
            wrap(vc, "<DisplayString>{id.v.nope}</DisplayString>"),
            "no member `nope`",
        ),
        (
            wrap(
                vc,
                "<Expand><Item Name=\"a\">((covmini::ffi::context::AdapterContext*)adapter.to.pointer)-&gt;counterz</Item></Expand>",
            ),
            "no member `counterz`",
        ),
        (
            wrap(
                vc,
                "<Expand><Item Name=\"c\">((covmini::ffi::call_block::CallBlock*)call.p.value)-&gt;sig</Item></Expand>",
            ),
            "no member `sig`",
        ),
        (
            wrap(
                vc,
                "<Expand><Item Name=\"c\">((covmini::NoSuch*)call.p.value)-&gt;signature</Item></Expand>",
            ),
            "does not define",
        ),
        (
            wrap(
                "covmini::ffi::flight::Slot",
                "<DisplayString>{(covmini::flight::event::NoSuchCode)code.v.value}</DisplayString>",
            ),
            "does not define",
        ),
        (
            wrap(vc, "<DisplayString>{counters,[id.v.wrong]x}</DisplayString>"),
            "no member `wrong`",
        ),
        (
            wrap(vc, "<DisplayString Condition=\"entry.q == 0\">x</DisplayString>"),
            "no member `q`",
        ),
        (
            wrap(vc, "<DisplayString>{id.v.value @ 3}</DisplayString>"),
            "unexpected `@`",
        ),
    ];
    for (natvis, why) in &bad {
        let report = check_natvis(types, natvis);
        assert!(
            report.errors.iter().any(|e| e.contains(why)),
            "{natvis}: expected an error containing {why:?}, got {:?}",
            report.errors
        );
    }
    // The committed natvis with one member renamed fails too.
    let source = natvis_source();
    let broken = source.replacen("params.value.cm", "params.value.cmx", 1);
    assert_ne!(broken, source, "the natvis no longer names params.value.cm");
    let report = check_natvis(types, &broken);
    assert!(
        report.errors.iter().any(|e| e.contains("no member `cmx`")),
        "renamed member not caught: {:?}",
        report.errors
    );
}
