//! The scenario file parser: TOML text → a checked [`Scenario`], or every
//! error found, each naming its line and column and what was expected.
//!
//! Two layers: the `toml` crate reads the TOML syntax into spanned tables
//! (`toml::de::DeTable`, every key and value with its byte span); this
//! module then reads those tables key by key. Unknown keys, wrong types,
//! missing keys, unknown names (a client, SAP, call or party no earlier line
//! declares) and steps that cannot happen in that order (a SAP the client
//! does not declare, an answer by a client that answers at once, a step
//! after halt) are errors at the offending key. So are party steps by the
//! wrong end: adding or dropping a party is the root's (the caller's); a
//! party's answer, send or hang-up is its leaf's (the client owning the
//! party's address), which names the party when it is the leaf of several.
//! It knows nothing of the emulator: the file is checked before anything
//! runs.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;

use ndis_sys::{NDIS_STATUS, NDIS_STATUS_PENDING, NDIS_STATUS_SUCCESS};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Action, Answers, Client, Expect, Flow, Scenario, Step, Target, status};

/// One thing wrong with a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Everything wrong with a scenario file, in line order, shown with the
/// offending lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseErrors {
    /// The file's name, as the errors show it.
    pub file: String,
    /// The errors, in line order.
    pub errors: Vec<ParseError>,
    lines: Vec<String>,
}

impl fmt::Display for ParseErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.errors {
            writeln!(f, "{}:{}:{}: {}", self.file, e.line, e.column, e.message)?;
            if let Some(text) = self.lines.get(e.line.wrapping_sub(1)) {
                writeln!(f, "{:>5} | {text}", e.line)?;
                writeln!(f, "      | {}^", " ".repeat(e.column.saturating_sub(1)))?;
            }
        }
        write!(f, "{} error(s) in {}", self.errors.len(), self.file)
    }
}

impl std::error::Error for ParseErrors {}

/// The step kinds and the keys each takes besides `do`, `text` and `expect`.
const KINDS: &[(&str, &[&str])] = &[
    ("open_af", &["client"]),
    ("register_sap", &["client", "address"]),
    ("deregister_sap", &["client", "address"]),
    ("close_af", &["client"]),
    (
        "make_call",
        &[
            "client",
            "call",
            "to",
            "to_undeclared",
            "flowspec",
            "multipoint",
            "party",
        ],
    ),
    ("answer", &["client", "call", "party", "answer"]),
    ("add_party", &["client", "call", "party", "to", "to_undeclared"]),
    ("drop_party", &["client", "party"]),
    (
        "send",
        &[
            "client",
            "call",
            "party",
            "count",
            "size",
            "expect_received",
            "expect_bytes",
        ],
    ),
    ("modify_qos", &["client", "call", "party", "flowspec"]),
    ("close_call", &["client", "call", "party"]),
    ("halt", &[]),
];

const TOP_KEYS: &[&str] = &["name", "description", "seed", "client", "step"];
const CLIENT_KEYS: &[&str] = &["name", "answers", "reject", "saps"];
const FLOW_KEYS: &[&str] = &["rate", "max_sdu"];
/// The longest address the parser takes: twice covmini's 32 bytes
/// (docs/call-manager.md), so a scenario can register or call a too-long
/// address on purpose and expect covmini's status for it.
const MAX_ADDRESS: usize = 64;
/// The most NBLs one send step sends, and the largest NBL.
const MAX_COUNT: i64 = 100_000;
const MAX_SIZE: i64 = 65_535;

/// Parses `text` (the contents of `file`) into a checked scenario.
///
/// # Errors
/// Every error found, each with its line, column and what was expected.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ParseErrors> {
    let mut p = Parser {
        src: text,
        errors: Vec::new(),
    };
    let scenario = match DeTable::parse(text) {
        Ok(root) => p.scenario(root.into_inner(), file),
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            p.err(at..at, format!("TOML syntax: {}", e.message().trim_end()));
            None
        }
    };
    match scenario {
        Some(s) if p.errors.is_empty() => Ok(s),
        _ => {
            let mut errors = p.errors;
            errors.sort_by_key(|e| (e.line, e.column));
            errors.dedup();
            Err(ParseErrors {
                file: file.to_owned(),
                errors,
                lines: text.lines().map(str::to_owned).collect(),
            })
        }
    }
}

type Span = Range<usize>;
type Value<'i> = Spanned<DeValue<'i>>;

/// What kind of TOML value this is, for "found …" in errors.
fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The keys of one table, taken one by one; what is left is unknown.
struct Fields<'i> {
    map: BTreeMap<String, (Span, Value<'i>)>,
    /// Where the table starts (its header, or its first key).
    at: Span,
}

impl<'i> Fields<'i> {
    fn new(table: DeTable<'i>, at: Span) -> Self {
        let map = table
            .into_iter()
            .map(|(k, v)| {
                let span = k.span();
                (k.into_inner().into_owned(), (span, v))
            })
            .collect();
        Self { map, at }
    }

    fn take(&mut self, key: &str) -> Option<(Span, Value<'i>)> {
        self.map.remove(key)
    }
}

struct Parser<'s> {
    src: &'s str,
    errors: Vec<ParseError>,
}

/// A call as the parser tracks it.
struct CallInfo {
    caller: usize,
    /// The client owning the called SAP: the callee, or the first party's
    /// leaf of a multipoint call.
    callee: Option<usize>,
    multipoint: bool,
    /// The name the make_call gave the first party, if any.
    first_party: Option<String>,
}

/// A party as the parser tracks it.
struct PartyInfo {
    /// Its call.
    call: String,
    /// The client owning its address (its leaf); none for an address no
    /// client declares, or echo.
    leaf: Option<usize>,
    /// The line of the step that dropped it (a drop_party expecting SUCCESS).
    dropped: Option<usize>,
}

/// What the steps so far have set up, to check each step against.
#[derive(Default)]
struct State {
    af_open: Vec<bool>,
    saps: Vec<Vec<String>>,
    calls: HashMap<String, CallInfo>,
    parties: HashMap<String, PartyInfo>,
    halted: Option<usize>,
}

impl State {
    /// The leaves `who` has in multipoint call `call`, still there: `None`
    /// for an unnamed first party, else the party's name.
    fn leaves_of(&self, call: &str, who: usize) -> Vec<Option<String>> {
        let mut out = Vec::new();
        if let Some(info) = self.calls.get(call)
            && info.first_party.is_none()
            && info.callee == Some(who)
        {
            out.push(None);
        }
        let mut named: Vec<&String> = self
            .parties
            .iter()
            .filter(|(_, p)| p.call == call && p.leaf == Some(who) && p.dropped.is_none())
            .map(|(n, _)| n)
            .collect();
        named.sort();
        out.extend(named.into_iter().map(|n| Some(n.clone())));
        out
    }
}

impl Parser<'_> {
    /// 1-based line and column of byte `at`.
    fn position(&self, at: usize) -> (usize, usize) {
        let at = at.min(self.src.len());
        let before = self.src.get(..at).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn line(&self, at: usize) -> usize {
        self.position(at).0
    }

    fn err(&mut self, span: Span, message: String) {
        let (line, column) = self.position(span.start);
        self.errors.push(ParseError { line, column, message });
    }

    /// The line of the `[[…]]` header of the table whose span starts at
    /// `at` (the span of an array-of-tables item may start at the header or
    /// at its first key; either way the header is the nearest line at or
    /// above it that opens a table).
    fn header_line(&self, at: usize) -> usize {
        let line = self.line(at);
        let lines: Vec<&str> = self.src.lines().collect();
        (1..=line)
            .rev()
            .find(|l| lines.get(l - 1).is_some_and(|t| t.trim_start().starts_with('[')))
            .unwrap_or(line)
    }

    /// Reports every key of `fields` that `allowed` does not name.
    fn check_keys(&mut self, fields: &Fields<'_>, what: &str, allowed: &[&str]) {
        for (key, (span, _)) in &fields.map {
            if !allowed.contains(&key.as_str()) {
                self.err(
                    span.clone(),
                    format!("unknown key `{key}` in {what}; expected one of: {}", allowed.join(", ")),
                );
            }
        }
    }

    fn string(&mut self, fields: &mut Fields<'_>, key: &str, what: &str) -> Option<(String, Span)> {
        let (_, v) = fields.take(key)?;
        let span = v.span();
        match v.into_inner() {
            DeValue::String(s) => Some((s.into_owned(), span)),
            other => {
                self.err(
                    span,
                    format!("`{key}` must be a string ({what}), found {}", kind(&other)),
                );
                None
            }
        }
    }

    fn required_string(
        &mut self,
        fields: &mut Fields<'_>,
        key: &str,
        what: &str,
        step: &str,
    ) -> Option<(String, Span)> {
        if !fields.map.contains_key(key) {
            let at = fields.at.clone();
            self.err(at, format!("{step} needs `{key} = \"…\"` ({what})"));
            return None;
        }
        self.string(fields, key, what)
    }

    fn integer(&mut self, fields: &mut Fields<'_>, key: &str, range: Range<i64>, what: &str) -> Option<(i64, Span)> {
        let (_, v) = fields.take(key)?;
        let span = v.span();
        let value = match v.into_inner() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
            other => {
                self.err(
                    span,
                    format!("`{key}` must be an integer ({what}), found {}", kind(&other)),
                );
                return None;
            }
        };
        match value {
            Some(n) if range.contains(&n) => Some((n, span)),
            _ => {
                self.err(
                    span,
                    format!(
                        "`{key}` must be an integer from {} to {} ({what})",
                        range.start,
                        range.end - 1
                    ),
                );
                None
            }
        }
    }

    fn boolean(&mut self, fields: &mut Fields<'_>, key: &str, what: &str) -> Option<bool> {
        let (_, v) = fields.take(key)?;
        let span = v.span();
        match v.into_inner() {
            DeValue::Boolean(b) => Some(b),
            other => {
                self.err(
                    span,
                    format!("`{key}` must be true or false ({what}), found {}", kind(&other)),
                );
                None
            }
        }
    }

    fn status(&mut self, fields: &mut Fields<'_>, key: &str) -> Option<NDIS_STATUS> {
        let (text, span) = self.string(fields, key, "an NDIS status such as \"SUCCESS\"")?;
        let s = status::parse(&text);
        if s.is_none() {
            let names: Vec<&str> = status::NAMES.iter().map(|(n, _)| *n).collect();
            self.err(
                span,
                format!(
                    "`{key} = {text:?}` is not an NDIS status; expected one of: {}, or hex such as \"0xC0010029\"",
                    names.join(", ")
                ),
            );
        }
        s
    }

    fn scenario(&mut self, root: DeTable<'_>, file: &str) -> Option<Scenario> {
        let mut top = Fields::new(root, 0..0);
        self.check_keys(&top, "the scenario", TOP_KEYS);
        let name = self
            .string(&mut top, "name", "the scenario's name")
            .map_or_else(|| file.to_owned(), |(n, _)| n);
        let _ = self.string(&mut top, "description", "what the scenario shows");
        let seed = self
            .integer(&mut top, "seed", 0..i64::MAX, "the scheduler seed")
            .map_or(0, |(n, _)| n.unsigned_abs());
        let clients = top.take("client");
        let steps = top.take("step");

        let mut declared = Vec::new();
        for (table, at) in self.tables(clients, "client") {
            if let Some(c) = self.client(table, at, &declared) {
                declared.push(c);
            }
        }
        let mut state = State {
            af_open: vec![false; declared.len()],
            saps: vec![Vec::new(); declared.len()],
            ..State::default()
        };
        let mut out = Vec::new();
        let steps = self.tables(steps, "step");
        if steps.is_empty() {
            self.err(0..0, "a scenario needs at least one `[[step]]`".to_owned());
        }
        for (table, at) in steps {
            if let Some(s) = self.step(table, at, &declared, &mut state) {
                out.push(s);
            }
        }
        Some(Scenario {
            name,
            seed,
            clients: declared,
            steps: out,
        })
    }

    /// The tables of an array of tables (`[[key]]`), with where each starts.
    fn tables<'i>(&mut self, value: Option<(Span, Value<'i>)>, key: &str) -> Vec<(DeTable<'i>, Span)> {
        let Some((kspan, v)) = value else {
            return Vec::new();
        };
        let span = v.span();
        let DeValue::Array(items) = v.into_inner() else {
            self.err(
                kspan,
                format!("`{key}` must be an array of tables: write each as a `[[{key}]]` section"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            let at = item.span();
            match item.get_ref() {
                DeValue::Table(t) => out.push((t.clone(), at)),
                other => self.err(
                    if at.is_empty() { span.clone() } else { at },
                    format!("each `{key}` must be a table (`[[{key}]]`), found {}", kind(other)),
                ),
            }
        }
        out
    }

    fn client(&mut self, table: DeTable<'_>, at: Span, declared: &[Client]) -> Option<Client> {
        let line = self.header_line(at.start);
        let mut f = Fields::new(table, at);
        self.check_keys(&f, "a `[[client]]`", CLIENT_KEYS);
        let name = self.required_string(&mut f, "name", "the client's name", "a `[[client]]`");
        let answers = match self.string(&mut f, "answers", "\"sync\" or \"pend\"") {
            None => Answers::Sync,
            Some((a, _)) if a == "sync" => Answers::Sync,
            Some((a, _)) if a == "pend" => Answers::Pend,
            Some((a, span)) => {
                self.err(
                    span,
                    format!(
                        "`answers = {a:?}`: expected \"sync\" (answer incoming calls at once) or \"pend\" (answer later, \
                         in an `answer` step)"
                    ),
                );
                Answers::Sync
            }
        };
        let answer_status = self.status(&mut f, "reject").unwrap_or(NDIS_STATUS_SUCCESS);
        let mut saps = Vec::new();
        if let Some((_, v)) = f.take("saps") {
            let span = v.span();
            match v.into_inner() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::String(s) if !s.is_empty() && s.len() <= MAX_ADDRESS => {
                                let taken = declared.iter().find(|c| c.saps.iter().any(|a| a == s.as_ref()));
                                if let Some(owner) = taken {
                                    self.err(
                                        item.span(),
                                        format!(
                                            "SAP address {s:?} is already declared by client {:?} (line {}); an \
                                             address belongs to one client",
                                            owner.name, owner.line
                                        ),
                                    );
                                } else if s.as_ref() == "echo" {
                                    self.err(
                                        item.span(),
                                        "\"echo\" is covmini's echo address; a client cannot declare it".to_owned(),
                                    );
                                } else {
                                    saps.push(s.clone().into_owned());
                                }
                            }
                            DeValue::String(_) => {
                                self.err(item.span(), format!("a SAP address must be 1 to {MAX_ADDRESS} bytes"))
                            }
                            other => self.err(
                                item.span(),
                                format!("`saps` must hold strings (addresses), found {}", kind(other)),
                            ),
                        }
                    }
                }
                other => self.err(
                    span,
                    format!(
                        "`saps` must be an array of addresses such as [\"bob\"], found {}",
                        kind(&other)
                    ),
                ),
            }
        }
        let (name, nspan) = name?;
        if let Some(other) = declared.iter().find(|c| c.name == name) {
            self.err(
                nspan,
                format!("client {name:?} is already declared at line {}", other.line),
            );
            return None;
        }
        Some(Client {
            name,
            answers,
            answer_status,
            saps,
            line,
        })
    }

    /// The client a step names in `client`.
    fn who(&mut self, f: &mut Fields<'_>, clients: &[Client], step: &str) -> Option<(usize, Span)> {
        let (name, span) = self.required_string(f, "client", "the client that acts", step)?;
        if let Some(i) = clients.iter().position(|c| c.name == name) {
            return Some((i, span));
        }
        let names: Vec<&str> = clients.iter().map(|c| c.name.as_str()).collect();
        self.err(
            span,
            format!(
                "no client named {name:?}; declared: {}",
                if names.is_empty() {
                    "none (add a `[[client]]`)".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        );
        None
    }

    fn flow(&mut self, f: &mut Fields<'_>) -> Option<Flow> {
        let (_, v) = f.take("flowspec")?;
        let span = v.span();
        let DeValue::Table(t) = v.into_inner() else {
            self.err(
                span,
                "`flowspec` must be a table such as { rate = 125000, max_sdu = 1500 }".to_owned(),
            );
            return None;
        };
        let mut ff = Fields::new(t, span);
        self.check_keys(&ff, "a `flowspec`", FLOW_KEYS);
        let mut flow = Flow::default();
        let max = i64::from(u32::MAX) + 1;
        if let Some((n, _)) = self.integer(&mut ff, "rate", 1..max, "bytes per second, both ways") {
            flow.rate = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some((n, _)) = self.integer(&mut ff, "max_sdu", 1..max, "the largest packet, in bytes") {
            flow.max_sdu = u32::try_from(n).unwrap_or(u32::MAX);
        }
        Some(flow)
    }

    /// The called address of a make_call or add_party step.
    fn target(&mut self, f: &mut Fields<'_>, clients: &[Client], step: &str) -> Option<Target> {
        let to = self.string(f, "to", "a declared SAP address, or \"echo\"");
        let undeclared = self.string(f, "to_undeclared", "an address no client declares");
        match (to, undeclared) {
            (Some(_), Some((_, span))) => {
                self.err(span, "give `to` or `to_undeclared`, not both".to_owned());
                None
            }
            (None, None) => {
                let at = f.at.clone();
                self.err(
                    at,
                    format!(
                        "{step} needs `to = \"…\"` (a SAP address a client declares, or \"echo\") or `to_undeclared = \
                         \"…\"` (an address nobody declares)"
                    ),
                );
                None
            }
            (Some((a, _)), None) if a == "echo" => Some(Target::Echo),
            (Some((a, span)), None) => {
                if let Some(owner) = clients.iter().position(|c| c.saps.contains(&a)) {
                    Some(Target::Sap { address: a, owner })
                } else {
                    let all: Vec<String> = clients
                        .iter()
                        .flat_map(|c| c.saps.iter().map(|s| format!("{s:?}")))
                        .collect();
                    self.err(
                        span,
                        format!(
                            "no client declares the SAP address {a:?} (declared: {}); use \"echo\" for covmini's echo \
                             address, or `to_undeclared = {a:?}` to call an address nobody declares on purpose",
                            if all.is_empty() {
                                "none".to_owned()
                            } else {
                                all.join(", ")
                            }
                        ),
                    );
                    None
                }
            }
            (None, Some((a, span))) => {
                if clients.iter().any(|c| c.saps.contains(&a)) || a == "echo" {
                    self.err(
                        span,
                        format!("{a:?} is declared (or is the echo address): write `to = {a:?}`"),
                    );
                    None
                } else if a.len() > MAX_ADDRESS {
                    self.err(span, format!("an address must be at most {MAX_ADDRESS} bytes"));
                    None
                } else {
                    Some(Target::Undeclared(a))
                }
            }
        }
    }

    /// The call a step names in `call`, which `who` must be an end of.
    fn call(
        &mut self,
        f: &mut Fields<'_>,
        state: &State,
        clients: &[Client],
        who: Option<usize>,
        step: &str,
    ) -> Option<String> {
        let (call, span) = self.required_string(f, "call", "the name a make_call step gave the call", step)?;
        let Some(info) = state.calls.get(&call) else {
            let mut known: Vec<&str> = state.calls.keys().map(String::as_str).collect();
            known.sort_unstable();
            self.err(
                span,
                format!(
                    "no call named {call:?} was made before this step (calls so far: {}); a `make_call` step with `call \
                     = {call:?}` must come first",
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                ),
            );
            return None;
        };
        if let Some(w) = who
            && w != info.caller
            && Some(w) != info.callee
            && !state.parties.values().any(|p| p.call == call && p.leaf == Some(w))
        {
            let name = |i: usize| clients.get(i).map_or("?", |c| c.name.as_str());
            let ends = if info.multipoint {
                let mut leaves: Vec<String> = info.callee.map(|c| format!("{:?}", name(c))).into_iter().collect();
                let mut more: Vec<String> = state
                    .parties
                    .values()
                    .filter(|p| p.call == call)
                    .filter_map(|p| p.leaf.map(|l| format!("{:?}", name(l))))
                    .collect();
                more.sort();
                leaves.extend(more);
                leaves.dedup();
                format!(
                    "{:?} (root) and its parties' leaves: {}",
                    name(info.caller),
                    leaves.join(", ")
                )
            } else {
                match info.callee {
                    Some(c) => format!("{:?} (caller) and {:?} (callee)", name(info.caller), name(c)),
                    None => format!("{:?} (caller) and covmini", name(info.caller)),
                }
            };
            self.err(
                span,
                format!(
                    "client {:?} is not an end of call {call:?}: its ends are {ends}",
                    name(w)
                ),
            );
            return None;
        }
        Some(call)
    }

    /// Which end of `call` client `w` acts as in a step with an optional
    /// `party` key: `Some(None)` for the caller (root) or the callee (the
    /// first party's leaf), `Some(Some(p))` for the leaf of party `p`.
    /// A leaf names its party unless it has only one leaf in the call; the
    /// root and a point-to-point call's ends give no party.
    fn end(
        &mut self,
        f: &mut Fields<'_>,
        state: &State,
        clients: &[Client],
        (w, wspan): (usize, Span),
        call: &str,
    ) -> Option<Option<String>> {
        let info = state.calls.get(call)?;
        let name = |i: usize| clients.get(i).map_or("?", |c| c.name.as_str());
        let Some((party, pspan)) = self.string(f, "party", "the party whose leaf acts") else {
            if w == info.caller || !info.multipoint {
                return Some(None);
            }
            let mut leaves = state.leaves_of(call, w);
            return match leaves.len() {
                1 => leaves.pop(),
                0 => {
                    self.err(
                        wspan,
                        format!("client {:?} has no party left in call {call:?}", name(w)),
                    );
                    None
                }
                _ => {
                    let named: Vec<String> = leaves
                        .iter()
                        .map(|l| {
                            l.as_ref()
                                .map_or_else(|| "the first party".to_owned(), |n| format!("{n:?}"))
                        })
                        .collect();
                    self.err(
                        wspan,
                        format!(
                            "client {:?} is the leaf of {} parties of call {call:?} ({}): say which with `party = \"…\"`",
                            name(w),
                            leaves.len(),
                            named.join(", ")
                        ),
                    );
                    None
                }
            };
        };
        if !info.multipoint {
            self.err(
                pspan,
                format!("call {call:?} is point to point: it has no parties, so a step on it takes no `party`"),
            );
            return None;
        }
        let Some(p) = state.parties.get(&party) else {
            self.err(pspan, format!("no party named {party:?} was added before this step"));
            return None;
        };
        if p.call != call {
            self.err(
                pspan,
                format!("party {party:?} belongs to call {:?}, not {call:?}", p.call),
            );
            return None;
        }
        if let Some(at) = p.dropped {
            self.err(pspan, format!("party {party:?} was dropped at line {at}"));
            return None;
        }
        if p.leaf != Some(w) {
            let leaf = p.leaf.map_or_else(
                || "no client (its address is not a declared SAP)".to_owned(),
                |l| format!("{:?}", name(l)),
            );
            let hint = if w == info.caller {
                " (the root acts on the whole call and gives no `party`)"
            } else {
                ""
            };
            self.err(
                wspan,
                format!(
                    "client {:?} is not the leaf of party {party:?}: its leaf is {leaf}{hint}",
                    name(w)
                ),
            );
            return None;
        }
        Some(Some(party))
    }

    /// "only call C's root (R, who made it) `<does>`; W is not its root", for
    /// a party step by someone else.
    fn root_only(&self, clients: &[Client], w: usize, root: usize, call: &str, does: &str) -> String {
        let name = |i: usize| clients.get(i).map_or("?", |c| c.name.as_str());
        format!(
            "only call {call:?}'s root ({:?}, who made it) {does}; {:?} is not its root",
            name(root),
            name(w)
        )
    }

    fn needs_af(&mut self, state: &State, who: usize, span: &Span, clients: &[Client]) -> bool {
        if state.af_open.get(who).copied().unwrap_or(false) {
            return true;
        }
        let name = clients.get(who).map_or("?", |c| c.name.as_str());
        self.err(
            span.clone(),
            format!("client {name:?} has no open AF here: an `open_af` step by {name:?} must come first"),
        );
        false
    }

    #[expect(clippy::too_many_lines, reason = "one arm per step kind, each short")]
    fn step(&mut self, table: DeTable<'_>, at: Span, clients: &[Client], state: &mut State) -> Option<Step> {
        let line = self.header_line(at.start);
        let mut f = Fields::new(table, at.clone());
        let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
        let (kind, kspan) = self.required_string(
            &mut f,
            "do",
            &format!("what the step does: one of {}", kinds.join(", ")),
            "a `[[step]]`",
        )?;
        let Some((_, keys)) = KINDS.iter().find(|(k, _)| *k == kind) else {
            self.err(
                kspan,
                format!("unknown step `do = {kind:?}`; expected one of: {}", kinds.join(", ")),
            );
            return None;
        };
        if let Some(h) = state.halted {
            self.err(
                kspan.clone(),
                format!("nothing can follow the `halt` step at line {h}: the adapter is gone"),
            );
        }
        let what = format!("a `{kind}` step");
        let mut allowed: Vec<&str> = vec!["do", "text", "expect"];
        allowed.extend_from_slice(keys);
        self.check_keys(&f, &what, &allowed);
        let text = self
            .string(&mut f, "text", "words for the progress view")
            .map(|(t, _)| t);
        let expect_status = self.status(&mut f, "expect");
        let expected = expect_status.unwrap_or(NDIS_STATUS_SUCCESS);
        let succeeds = expected == NDIS_STATUS_SUCCESS;
        let who = if keys.contains(&"client") {
            self.who(&mut f, clients, &what)
        } else {
            None
        };
        let mut received = None;
        let mut bytes = None;
        let action = match kind.as_str() {
            "open_af" => {
                let (w, span) = who.clone()?;
                if state.af_open.get(w).copied().unwrap_or(false) {
                    self.err(
                        span,
                        "this client's AF is already open (a scenario gives each client one AF; close_af first)"
                            .to_owned(),
                    );
                }
                if succeeds && let Some(o) = state.af_open.get_mut(w) {
                    *o = true;
                }
                Some(Action::OpenAf)
            }
            "register_sap" | "deregister_sap" => {
                let address = self.required_string(&mut f, "address", "one of the client's `saps`", &what);
                let (w, span) = who.clone()?;
                let (address, aspan) = address?;
                self.needs_af(state, w, &span, clients);
                let client = clients.get(w)?;
                let registered = state.saps.get(w).is_some_and(|s| s.contains(&address));
                if kind == "register_sap" {
                    if !client.saps.contains(&address) {
                        self.err(
                            aspan,
                            format!(
                                "client {:?} does not declare SAP {address:?}; its `saps` are [{}]",
                                client.name,
                                client
                                    .saps
                                    .iter()
                                    .map(|s| format!("{s:?}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        );
                        return None;
                    }
                    if succeeds && let Some(s) = state.saps.get_mut(w) {
                        s.push(address.clone());
                    }
                    Some(Action::RegisterSap { address })
                } else {
                    if !registered {
                        self.err(
                            aspan,
                            format!(
                                "client {:?} has not registered SAP {address:?} before this step",
                                client.name
                            ),
                        );
                        return None;
                    }
                    if succeeds && let Some(s) = state.saps.get_mut(w) {
                        s.retain(|a| *a != address);
                    }
                    Some(Action::DeregisterSap { address })
                }
            }
            "close_af" => {
                let (w, span) = who.clone()?;
                self.needs_af(state, w, &span, clients);
                if (succeeds || expected == NDIS_STATUS_PENDING)
                    && let Some(o) = state.af_open.get_mut(w)
                {
                    *o = false;
                }
                Some(Action::CloseAf)
            }
            "make_call" => {
                let call = self.required_string(&mut f, "call", "a name for the call, for later steps", &what);
                let to = self.target(&mut f, clients, &what);
                let flow = self.flow(&mut f).unwrap_or_default();
                let multipoint = self
                    .boolean(&mut f, "multipoint", "a point-to-multipoint call")
                    .unwrap_or(false);
                let party = self.string(&mut f, "party", "a name for the call's first party");
                let (w, span) = who.clone()?;
                self.needs_af(state, w, &span, clients);
                let (call, cspan) = call?;
                let to = to?;
                if state.calls.contains_key(&call) {
                    self.err(
                        cspan,
                        format!("a call named {call:?} was already made; give each call its own name"),
                    );
                    return None;
                }
                let callee = match &to {
                    Target::Sap { owner, .. } => Some(*owner),
                    Target::Echo | Target::Undeclared(_) => None,
                };
                let party = match party {
                    Some((p, pspan)) if !multipoint => {
                        self.err(
                            pspan,
                            format!("`party = {p:?}` needs `multipoint = true` (a point-to-point call has no parties)"),
                        );
                        None
                    }
                    Some((p, pspan)) => {
                        if state.parties.contains_key(&p) {
                            self.err(pspan, format!("a party named {p:?} already exists"));
                        }
                        state.parties.insert(
                            p.clone(),
                            PartyInfo {
                                call: call.clone(),
                                leaf: callee,
                                dropped: None,
                            },
                        );
                        Some(p)
                    }
                    None => None,
                };
                state.calls.insert(
                    call.clone(),
                    CallInfo {
                        caller: w,
                        callee,
                        multipoint,
                        first_party: party.clone(),
                    },
                );
                Some(Action::MakeCall {
                    call,
                    to,
                    flow,
                    multipoint,
                    party,
                })
            }
            "answer" => {
                let w = who.clone().map(|(w, _)| w);
                let call = self.call(&mut f, state, clients, w, &what);
                let given = self.status(&mut f, "answer");
                let (w, span) = who.clone()?;
                let client = clients.get(w)?;
                let call = call?;
                let party = self.end(&mut f, state, clients, (w, span.clone()), &call)?;
                if party.is_none() && state.calls.get(&call).is_some_and(|c| c.callee != Some(w)) {
                    self.err(
                        span,
                        format!("only the callee answers call {call:?}; {:?} made it", client.name),
                    );
                    return None;
                }
                if client.answers != Answers::Pend {
                    self.err(
                        span,
                        format!(
                            "client {:?} answers incoming calls at once (`answers = \"sync\"`); an `answer` step is \
                             for a client with `answers = \"pend\"` (line {})",
                            client.name, client.line
                        ),
                    );
                    return None;
                }
                Some(Action::Answer {
                    call,
                    party,
                    status: given.unwrap_or(client.answer_status),
                })
            }
            "add_party" => {
                let w = who.clone().map(|(w, _)| w);
                let call = self.call(&mut f, state, clients, w, &what);
                let party = self.required_string(&mut f, "party", "a name for the new party", &what);
                let to = self.target(&mut f, clients, &what);
                let (w, span) = who.clone()?;
                let (call, (party, pspan), to) = (call?, party?, to?);
                let info = state.calls.get(&call)?;
                if !info.multipoint {
                    self.err(
                        pspan,
                        format!("call {call:?} is point to point: parties need `multipoint = true` on its make_call"),
                    );
                    return None;
                }
                if info.caller != w {
                    self.err(span, self.root_only(clients, w, info.caller, &call, "adds parties"));
                    return None;
                }
                if state.parties.contains_key(&party) {
                    self.err(pspan, format!("a party named {party:?} already exists"));
                    return None;
                }
                let leaf = match &to {
                    Target::Sap { owner, .. } => Some(*owner),
                    Target::Echo | Target::Undeclared(_) => None,
                };
                state.parties.insert(
                    party.clone(),
                    PartyInfo {
                        call: call.clone(),
                        leaf,
                        dropped: None,
                    },
                );
                Some(Action::AddParty { call, party, to })
            }
            "drop_party" => {
                let party = self.required_string(&mut f, "party", "a party an earlier step made", &what);
                let (w, span) = who.clone()?;
                let (party, pspan) = party?;
                let Some(p) = state.parties.get(&party) else {
                    self.err(
                        pspan,
                        format!(
                            "no party named {party:?} was added before this step (a make_call's `party` or an \
                             add_party step)"
                        ),
                    );
                    return None;
                };
                if let Some(at) = p.dropped {
                    self.err(pspan, format!("party {party:?} was dropped at line {at}"));
                    return None;
                }
                let call = p.call.clone();
                let root = state.calls.get(&call).map_or(usize::MAX, |c| c.caller);
                if root != w {
                    self.err(span, self.root_only(clients, w, root, &call, "drops its parties"));
                    return None;
                }
                if succeeds && let Some(p) = state.parties.get_mut(&party) {
                    p.dropped = Some(line);
                }
                Some(Action::DropParty { call, party })
            }
            "send" => {
                let w = who.clone().map(|(w, _)| w);
                let call = self.call(&mut f, state, clients, w, &what);
                let (has_count, has_size) = (f.map.contains_key("count"), f.map.contains_key("size"));
                let count = self.integer(&mut f, "count", 1..MAX_COUNT + 1, "how many NBLs");
                let size = self.integer(&mut f, "size", 1..MAX_SIZE + 1, "bytes in each NBL");
                received = self
                    .integer(&mut f, "expect_received", 0..i64::MAX, "NBLs the other end gets")
                    .map(|(n, _)| n.unsigned_abs());
                bytes = self
                    .integer(&mut f, "expect_bytes", 0..i64::MAX, "payload bytes the other end gets")
                    .map(|(n, _)| n.unsigned_abs());
                let at = f.at.clone();
                if !has_count {
                    self.err(at.clone(), format!("{what} needs `count = N` (how many NBLs)"));
                }
                if !has_size {
                    self.err(at, format!("{what} needs `size = N` (bytes in each NBL)"));
                }
                let w = who.clone()?;
                let call = call?;
                let party = self.end(&mut f, state, clients, w, &call)?;
                let ((count, _), (size, _)) = (count?, size?);
                Some(Action::Send {
                    call,
                    party,
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                    size: u32::try_from(size).unwrap_or(u32::MAX),
                })
            }
            "modify_qos" => {
                let w = who.clone().map(|(w, _)| w);
                let call = self.call(&mut f, state, clients, w, &what);
                let had = f.map.contains_key("flowspec");
                let flow = self.flow(&mut f);
                if !had {
                    let at = f.at.clone();
                    self.err(
                        at,
                        format!("{what} needs `flowspec = {{ rate = N, max_sdu = N }}` (the new QoS)"),
                    );
                }
                let w = who.clone()?;
                let call = call?;
                let party = self.end(&mut f, state, clients, w, &call)?;
                Some(Action::ModifyQos {
                    call,
                    party,
                    flow: flow?,
                })
            }
            "close_call" => {
                let w = who.clone().map(|(w, _)| w);
                let call = self.call(&mut f, state, clients, w, &what);
                let w = who.clone()?;
                let call = call?;
                let party = self.end(&mut f, state, clients, w, &call)?;
                Some(Action::CloseCall { call, party })
            }
            "halt" => {
                state.halted = Some(line);
                state.af_open.iter_mut().for_each(|o| *o = false);
                Some(Action::Halt)
            }
            _ => None,
        };
        Some(Step {
            client: who.map(|(w, _)| w),
            action: action?,
            expect: Expect {
                status: expected,
                received,
                bytes,
            },
            text,
            line,
        })
    }
}

#[cfg(test)]
mod tests {
    use ndis_sys::{NDIS_STATUS_INCOMPATABLE_QOS, NDIS_STATUS_NO_ROUTE_TO_DESTINATION, NDIS_STATUS_NOT_ACCEPTED};

    use super::*;

    /// Every step kind, every optional key.
    const ALL_KINDS: &str = r#"
name = "all kinds"
seed = 42

[[client]]
name = "alice"

[[client]]
name = "bob"
answers = "pend"
reject = "NOT_ACCEPTED"
saps = ["bob", "bob2"]

[[step]]
do = "open_af"
client = "alice"

[[step]]
do = "open_af"
client = "bob"

[[step]]
do = "register_sap"
client = "bob"
address = "bob"

[[step]]
do = "make_call"
client = "alice"
call = "m"
to = "bob"
multipoint = true
party = "first"
flowspec = { rate = 1000, max_sdu = 512 }
expect = "PENDING"

[[step]]
do = "answer"
client = "bob"
call = "m"
answer = "SUCCESS"

[[step]]
do = "add_party"
client = "alice"
call = "m"
party = "second"
to = "bob2"

[[step]]
do = "drop_party"
client = "alice"
party = "second"

[[step]]
do = "send"
client = "bob"
call = "m"
count = 3
size = 64
expect_received = 3
expect_bytes = 192

[[step]]
do = "modify_qos"
client = "alice"
call = "m"
flowspec = { rate = 2000000000 }
expect = "INCOMPATABLE_QOS"

[[step]]
do = "close_call"
client = "bob"
call = "m"

[[step]]
do = "make_call"
client = "alice"
call = "x"
to_undeclared = "carol"
expect = "0xC0010029"
text = "nobody is there"

[[step]]
do = "deregister_sap"
client = "bob"
address = "bob"

[[step]]
do = "close_af"
client = "bob"

[[step]]
do = "halt"
"#;

    #[test]
    fn a_file_with_every_step_kind_parses_into_the_model() {
        let s = parse("all.toml", ALL_KINDS).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.name, "all kinds");
        assert_eq!(s.seed, 42);
        assert_eq!(s.clients.len(), 2);
        let bob = &s.clients[1];
        assert_eq!(
            (bob.answers, bob.answer_status, bob.saps.clone(), bob.line),
            (
                Answers::Pend,
                NDIS_STATUS_NOT_ACCEPTED,
                vec!["bob".to_owned(), "bob2".to_owned()],
                8
            )
        );
        assert_eq!(s.clients[0].answer_status, NDIS_STATUS_SUCCESS);
        let lines: Vec<usize> = s.steps.iter().map(|st| st.line).collect();
        assert_eq!(lines, [14, 18, 22, 27, 37, 43, 50, 55, 64, 71, 76, 84, 89, 93]);
        assert_eq!(
            s.steps[3].action,
            Action::MakeCall {
                call: "m".into(),
                to: Target::Sap {
                    address: "bob".into(),
                    owner: 1
                },
                flow: Flow {
                    rate: 1000,
                    max_sdu: 512
                },
                multipoint: true,
                party: Some("first".into()),
            }
        );
        assert_eq!(s.steps[3].expect.status, NDIS_STATUS_PENDING);
        assert_eq!(
            s.steps[4].action,
            Action::Answer {
                call: "m".into(),
                party: Some("first".into()),
                status: NDIS_STATUS_SUCCESS
            },
            "bob is the leaf of one party of m: the parser names it"
        );
        assert_eq!(
            s.steps[6].action,
            Action::DropParty {
                call: "m".into(),
                party: "second".into()
            }
        );
        assert_eq!(
            s.steps[7].action,
            Action::Send {
                call: "m".into(),
                party: Some("first".into()),
                count: 3,
                size: 64
            },
            "\"second\" was dropped, so bob's one leaf is \"first\"'s"
        );
        assert_eq!(s.steps[7].expect.received, Some(3));
        assert_eq!(s.steps[7].expect.bytes, Some(192));
        assert_eq!(
            s.steps[8].action,
            Action::ModifyQos {
                call: "m".into(),
                party: None,
                flow: Flow {
                    rate: 2_000_000_000,
                    max_sdu: 1500
                }
            },
            "a flowspec key left out keeps its default"
        );
        assert_eq!(s.steps[8].expect.status, NDIS_STATUS_INCOMPATABLE_QOS);
        assert_eq!(s.steps[10].expect.status, NDIS_STATUS_NO_ROUTE_TO_DESTINATION);
        assert_eq!(
            s.steps[10].action,
            Action::MakeCall {
                call: "x".into(),
                to: Target::Undeclared("carol".into()),
                flow: Flow::default(),
                multipoint: false,
                party: None,
            }
        );
        assert_eq!(s.describe(&s.steps[10]), "nobody is there");
        assert_eq!(s.describe(&s.steps[0]), "alice opens covmini's AF");
        assert_eq!(s.steps[13].action, Action::Halt);
        assert_eq!(s.steps[13].client, None);
    }

    #[test]
    fn a_pended_answer_defaults_to_the_clients_reject_status() {
        let text = ALL_KINDS.replace("answer = \"SUCCESS\"\n", "");
        let s = parse("t", &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.steps[4].action,
            Action::Answer {
                call: "m".into(),
                party: Some("first".into()),
                status: NDIS_STATUS_NOT_ACCEPTED
            }
        );
    }

    #[test]
    fn errors_come_in_line_order_with_the_offending_line_shown() {
        let text = "name = 3\n\n[[step]]\ndo = \"halt\"\nbogus = 1\n";
        let e = parse("f.toml", text).expect_err("two errors");
        assert_eq!(
            e.errors.iter().map(|e| (e.line, e.column)).collect::<Vec<_>>(),
            [(1, 8), (5, 1)]
        );
        let shown = e.to_string();
        assert!(shown.starts_with("f.toml:1:8: `name` must be a string"), "{shown}");
        assert!(shown.contains("    5 | bogus = 1\n      | ^\n"), "{shown}");
        assert!(shown.ends_with("2 error(s) in f.toml"), "{shown}");
    }

    /// A multipoint call: bob's first party "b", carol's pended party "c".
    const MULTIPOINT: &str = r#"name = "mp"

[[client]]
name = "alice"

[[client]]
name = "bob"
saps = ["bob", "bob2"]

[[client]]
name = "carol"
answers = "pend"
saps = ["carol"]

[[step]]
do = "open_af"
client = "alice"

[[step]]
do = "open_af"
client = "bob"

[[step]]
do = "open_af"
client = "carol"

[[step]]
do = "make_call"
client = "alice"
call = "m"
to = "bob"
multipoint = true
party = "b"

[[step]]
do = "add_party"
client = "alice"
call = "m"
party = "c"
to = "carol"
expect = "PENDING"

[[step]]
do = "answer"
client = "carol"
call = "m"
party = "c"

[[step]]
do = "send"
client = "alice"
call = "m"
count = 1
size = 64

[[step]]
do = "drop_party"
client = "alice"
party = "c"

[[step]]
do = "close_call"
client = "alice"
call = "m"
"#;

    #[test]
    fn a_multipoint_file_resolves_each_step_to_the_end_that_takes_it() {
        let s = parse("mp.toml", MULTIPOINT).unwrap_or_else(|e| panic!("{e}"));
        let answer = Action::Answer {
            call: "m".into(),
            party: Some("c".into()),
            status: NDIS_STATUS_SUCCESS,
        };
        assert_eq!(s.steps[5].action, answer);
        assert_eq!(
            s.describe(&s.steps[5]),
            "carol accepts party \"c\" of call \"m\" (pended answer)"
        );
        assert_eq!(
            s.steps[6].action,
            Action::Send {
                call: "m".into(),
                party: None,
                count: 1,
                size: 64
            },
            "the root sends on the whole call"
        );
        assert_eq!(
            s.steps[8].action,
            Action::CloseCall {
                call: "m".into(),
                party: None
            }
        );
        // carol is the leaf of one party: `party` may be left out.
        let implicit = MULTIPOINT.replacen(
            "client = \"carol\"\ncall = \"m\"\nparty = \"c\"\n",
            "client = \"carol\"\ncall = \"m\"\n",
            1,
        );
        let s = parse("mp.toml", &implicit).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.steps[5].action, answer);
        // A leaf hangs up its own party.
        let hang_up = MULTIPOINT.replacen(
            "do = \"drop_party\"",
            "do = \"close_call\"\nclient = \"bob\"\ncall = \"m\"\n\n[[step]]\ndo = \"drop_party\"",
            1,
        );
        let s = parse("mp.toml", &hang_up).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.steps[7].action,
            Action::CloseCall {
                call: "m".into(),
                party: Some("b".into())
            }
        );
        assert_eq!(s.describe(&s.steps[7]), "bob hangs up its party \"b\" of call \"m\"");
        assert_eq!(super::super::phase(&s.steps[7].action), "party");
    }

    /// Each party mistake, refused at the offending key: the replacement
    /// of `from` by `to` in [`MULTIPOINT`], the text the error points at
    /// (its first occurrence from the replacement on), and its words.
    #[test]
    fn party_mistakes_are_refused_at_the_offending_key() {
        let cases: &[(&str, &str, &str, &str, &str)] = &[
            (
                "a party answer by a client that is not its leaf",
                "client = \"carol\"\ncall = \"m\"\nparty = \"c\"",
                "client = \"carol\"\ncall = \"m\"\nparty = \"b\"",
                "\"carol\"",
                "client \"carol\" is not the leaf of party \"b\": its leaf is \"bob\"",
            ),
            (
                "an answer on a party that does not exist",
                "\"carol\"\ncall = \"m\"\nparty = \"c\"\n",
                "\"carol\"\ncall = \"m\"\nparty = \"zed\"\n",
                "\"zed\"",
                "no party named \"zed\" was added before this step",
            ),
            (
                "a drop_party by a client that is not the root",
                "do = \"drop_party\"\nclient = \"alice\"",
                "do = \"drop_party\"\nclient = \"carol\"",
                "\"carol\"",
                "only call \"m\"'s root (\"alice\", who made it) drops its parties; \"carol\" is not its root",
            ),
            (
                "an add_party by a client that is not the root",
                "do = \"add_party\"\nclient = \"alice\"",
                "do = \"add_party\"\nclient = \"bob\"",
                "\"bob\"",
                "only call \"m\"'s root (\"alice\", who made it) adds parties; \"bob\" is not its root",
            ),
            (
                "an add_party to a point-to-point call",
                "multipoint = true\nparty = \"b\"\n",
                "",
                "\"c\"",
                "call \"m\" is point to point: parties need `multipoint = true`",
            ),
            (
                "`party` given by the root",
                "client = \"alice\"\ncall = \"m\"\ncount = 1",
                "client = \"alice\"\ncall = \"m\"\nparty = \"b\"\ncount = 1",
                "\"alice\"",
                "client \"alice\" is not the leaf of party \"b\": its leaf is \"bob\" (the root acts on the whole call",
            ),
            (
                "a party dropped twice",
                "[[step]]\ndo = \"close_call\"",
                "[[step]]\ndo = \"drop_party\"\nclient = \"alice\"\nparty = \"c\"\n\n[[step]]\ndo = \"close_call\"",
                "\"c\"",
                "party \"c\" was dropped at line 56",
            ),
            (
                "a leaf acting after its only party was dropped",
                "[[step]]\ndo = \"close_call\"",
                "[[step]]\ndo = \"send\"\nclient = \"carol\"\ncall = \"m\"\ncount = 1\nsize = 1\n\n[[step]]\ndo = \"close_call\"",
                "\"carol\"",
                "client \"carol\" has no party left in call \"m\"",
            ),
            (
                "a leaf of two parties that does not say which",
                "[[step]]\ndo = \"answer\"",
                "[[step]]\ndo = \"add_party\"\nclient = \"alice\"\ncall = \"m\"\nparty = \"b2\"\nto = \"bob2\"\n\n\
                 [[step]]\ndo = \"send\"\nclient = \"bob\"\ncall = \"m\"\ncount = 1\nsize = 1\n\n[[step]]\ndo = \"answer\"",
                "\"bob\"\ncall",
                "client \"bob\" is the leaf of 2 parties of call \"m\" (\"b\", \"b2\"): say which with `party = \"…\"`",
            ),
            (
                "`party` on a point-to-point call",
                "[[step]]\ndo = \"close_call\"",
                "[[step]]\ndo = \"make_call\"\nclient = \"alice\"\ncall = \"p\"\nto = \"bob2\"\n\n\
                 [[step]]\ndo = \"close_call\"\nclient = \"bob\"\ncall = \"p\"\nparty = \"b\"\n\n[[step]]\ndo = \"close_call\"",
                "\"b\"\n",
                "call \"p\" is point to point: it has no parties, so a step on it takes no `party`",
            ),
            (
                "a party of another call",
                "[[step]]\ndo = \"close_call\"",
                "[[step]]\ndo = \"make_call\"\nclient = \"alice\"\ncall = \"n\"\nto = \"bob2\"\nmultipoint = true\n\n\
                 [[step]]\ndo = \"close_call\"\nclient = \"bob\"\ncall = \"n\"\nparty = \"b\"\n\n[[step]]\ndo = \"close_call\"",
                "\"b\"\n",
                "party \"b\" belongs to call \"m\", not \"n\"",
            ),
            (
                "a first party named like an existing one",
                "[[step]]\ndo = \"close_call\"",
                "[[step]]\ndo = \"make_call\"\nclient = \"alice\"\ncall = \"n\"\nto = \"bob2\"\nmultipoint = true\n\
                 party = \"c\"\n\n[[step]]\ndo = \"close_call\"",
                "\"c\"\n\n",
                "a party named \"c\" already exists",
            ),
        ];
        for (what, from, to, at, words) in cases {
            let start = MULTIPOINT
                .find(from)
                .unwrap_or_else(|| panic!("{what}: {from:?} not in MULTIPOINT"));
            let text = MULTIPOINT.replacen(from, to, 1);
            let offset = text[start..]
                .find(at)
                .map(|o| o + start)
                .unwrap_or_else(|| panic!("{what}: {at:?} not in the replacement"));
            let line = text[..offset].matches('\n').count() + 1;
            let column = offset - text[..offset].rfind('\n').map_or(0, |n| n + 1) + 1;
            let e = parse("mp.toml", &text).expect_err(what);
            assert!(
                e.errors
                    .iter()
                    .any(|e| (e.line, e.column) == (line, column) && e.message.contains(words)),
                "{what}: want {line}:{column} {words:?}, got:\n{e}"
            );
        }
    }
}
