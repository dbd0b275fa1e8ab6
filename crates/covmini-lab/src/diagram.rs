//! `--diagram FILE.svg`: the run as a sequence diagram, for a design review.
//!
//! Lifelines: one per scripted client, then NDIS (ndis-emu) and covmini.
//! Each scenario step opens a shaded band; under it, one row per trace
//! event: `->` NDIS calls a covmini handler (solid arrow NDIS → covmini; when
//! a client's request caused it, a dotted arrow comes from that client's
//! lane), `<-` the handler returns (dashed arrow back, labelled with its
//! status by name, read from the structured trace; a VOID handler's says
//! only that it returned), `=>` covmini calls an NDIS DDI (solid arrow
//! covmini → NDIS; a DDI that returns a value, its call and then `-> value`
//! in the trace, is one row with both; when
//! NDIS passes it on to a client — an incoming call, a receive, a send
//! completion — a dotted arrow continues to that client's lane), `!!` a
//! fault ndis-emu injected. Which client: the owner of the first NDIS
//! handle the event names ([`Lanes::owner_in`]); a returned receive is the
//! client the oldest unreturned indication went to; failing both, the
//! step's acting client for a request, "a client" otherwise.
//! Long runs of the same call to the same lane (hundreds of NBL allocations
//! when an AF opens) collapse into one arrow labelled `×N`, and a group of
//! rows that repeats in a row (each NBL of a 100-NBL send: the send, the
//! indication, the return) is drawn once under a `↻ … ×N` row ([`fold`]):
//! the data scenario's diagram is 4 700 px tall, not 40 000. A step that was
//! not run (an earlier one failed) is a grey band saying so. Violations are
//! red rows with the rule id, and the event they happened in is drawn red.
//!
//! Plain string building; no dependencies.

use std::collections::VecDeque;
use std::fmt::Write;

use ndis_emu::trace::Status;
use ndis_emu::{Event, Report};

use crate::steps::{Lanes, Step};

/// Runs of at least this many identical calls collapse into one arrow.
pub const COLLAPSE_MIN_RUN: usize = 4;

/// The first client lane, the distance between client lanes, and from the
/// last client lane to NDIS (room for the relay labels).
const X_FIRST_CLIENT: u32 = 180;
const LANE_GAP: u32 = 150;
const CLIENTS_TO_NDIS: u32 = 250;
/// NDIS → covmini, covmini → the detail column, the detail column's width.
const NDIS_TO_DRIVER: u32 = 340;
const DRIVER_TO_DETAIL: u32 = 115;
const DETAIL_WIDTH: u32 = 505;
/// Lane heads: NDIS's and covmini's, a client's (narrower than LANE_GAP).
const HEAD_W: u32 = 190;
const CLIENT_HEAD_W: u32 = 140;
const CLIENT_HEAD_CHARS: usize = 13;
const DETAIL_CHARS: usize = 70;
const ROW: u32 = 30;
const BAND: u32 = 34;
const HEAD: u32 = 52;
const TOP: u32 = 170;

const C_CALL: &str = "#1f5fbf";
const C_RET: &str = "#5b6b7f";
const C_DDI: &str = "#1d7f4e";
const C_FAULT: &str = "#b35c00";
const C_BAD: &str = "#c62828";

/// Escapes text for SVG content and attribute values.
#[must_use]
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if u32::from(c) < 0x20 => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Where the lifelines and columns are, for a run with `clients` clients.
struct Layout {
    /// One lane per client (one unnamed lane when there are none).
    clients: Vec<u32>,
    ndis: u32,
    driver: u32,
    detail: u32,
    width: u32,
}

impl Layout {
    fn new(clients: usize) -> Self {
        let n = u32::try_from(clients.max(1)).unwrap_or(1);
        let clients: Vec<u32> = (0..n).map(|i| X_FIRST_CLIENT + i * LANE_GAP).collect();
        let ndis = X_FIRST_CLIENT + (n - 1) * LANE_GAP + CLIENTS_TO_NDIS;
        let driver = ndis + NDIS_TO_DRIVER;
        let detail = driver + DRIVER_TO_DETAIL;
        Self {
            clients,
            ndis,
            driver,
            detail,
            width: detail + DETAIL_WIDTH,
        }
    }

    /// The lane of client `c` (the first lane when unknown).
    fn client(&self, c: Option<usize>) -> u32 {
        c.and_then(|c| self.clients.get(c))
            .or(self.clients.first())
            .copied()
            .unwrap_or(X_FIRST_CLIENT)
    }
}

/// One row of the diagram: `count` consecutive events starting at `first`,
/// which are `calls` calls: one event each, or two for a DDI that returns a
/// value (its call and, next in the trace, what it returned). `calls > 1`
/// only for a collapsed run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub first: usize,
    pub count: usize,
    pub calls: usize,
}

/// Event `k + 1` is the value DDI call `k` returned: the same DDI, next in
/// the trace, saying `-> …` (or `failed: …`) where the call said what it
/// was asked.
fn returns_value(events: &[Event], k: usize) -> bool {
    let (Some(call), Some(ret)) = (events.get(k), events.get(k + 1)) else {
        return false;
    };
    if call.dir != "=>" || ret.dir != "=>" || call.name != ret.name {
        return false;
    }
    let (asked, got) = (call.detail(), ret.detail());
    !asked.starts_with("-> ") && (got.starts_with("-> ") || got.starts_with("failed: "))
}

/// Groups `events` into rows: a DDI call and the value it returned are one
/// call; a run of at least `min_run` consecutive calls with the same
/// direction, name and client lane (`lanes[k]` for event `k`; none when
/// missing) becomes one row; shorter runs stay one row per call.
#[must_use]
pub fn collapse(events: &[Event], lanes: &[Option<usize>], min_run: usize) -> Vec<Run> {
    let lane = |k: usize| lanes.get(k).copied().flatten();
    // Each call: its first event and how many events it has.
    let mut calls: Vec<(usize, usize)> = Vec::with_capacity(events.len());
    let mut k = 0;
    while k < events.len() {
        let len = if returns_value(events, k) { 2 } else { 1 };
        calls.push((k, len));
        k += len;
    }
    let same =
        |a: usize, b: usize| events[a].dir == events[b].dir && events[a].name == events[b].name && lane(a) == lane(b);
    let mut rows = Vec::new();
    let mut i = 0;
    while i < calls.len() {
        let mut j = i + 1;
        while j < calls.len() && same(calls[j].0, calls[i].0) {
            j += 1;
        }
        if j - i >= min_run.max(2) {
            let (first, (last, len)) = (calls[i].0, calls[j - 1]);
            rows.push(Run {
                first,
                count: last + len - first,
                calls: j - i,
            });
        } else {
            rows.extend(calls[i..j].iter().map(|&(first, count)| Run { first, count, calls: 1 }));
        }
        i = j;
    }
    rows
}

/// The longest group of rows [`fold`] looks for repeats of.
pub const FOLD_MAX_PERIOD: usize = 24;
/// A group folds when it repeats at least this many times in a row.
pub const FOLD_MIN_TIMES: usize = 3;

/// Rows to draw: `rows` once, or (`repeated` = `(times, last event)`) the
/// first of `times` identical runs of `rows` in a row, the last of them
/// ending at event `last`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block<'a> {
    pub rows: &'a [Run],
    pub repeated: Option<(usize, usize)>,
}

/// Folds repeated runs of rows: where a group of at most
/// [`FOLD_MAX_PERIOD`] rows repeats at least [`FOLD_MIN_TIMES`] times in a
/// row (each row the same as its counterpart by `key`: the same direction,
/// name, lane, call count and verdict), the group is drawn once with ×N.
/// A 100-NBL send is one send's rows ×100, not 600 rows. At each row the
/// fold that covers the most rows wins (the shortest group on a tie).
#[must_use]
pub fn fold<K: PartialEq>(rows: &[Run], key: impl Fn(&Run) -> K) -> Vec<Block<'_>> {
    let keys: Vec<K> = rows.iter().map(&key).collect();
    let mut out = Vec::new();
    let mut single = 0;
    let mut i = 0;
    while i < rows.len() {
        let mut best: Option<(usize, usize)> = None;
        for p in 1..=FOLD_MAX_PERIOD.min((rows.len() - i) / FOLD_MIN_TIMES) {
            let mut times = 1;
            while i + (times + 1) * p <= rows.len() && (0..p).all(|j| keys[i + times * p + j] == keys[i + j]) {
                times += 1;
            }
            if times >= FOLD_MIN_TIMES && best.is_none_or(|(bp, bt)| times * p > bp * bt) {
                best = Some((p, times));
            }
        }
        match best {
            Some((p, times)) => {
                if single < i {
                    out.push(Block {
                        rows: &rows[single..i],
                        repeated: None,
                    });
                }
                let last = rows[i + times * p - 1];
                out.push(Block {
                    rows: &rows[i..i + p],
                    repeated: Some((times, last.first + last.count - 1)),
                });
                i += times * p;
                single = i;
            }
            None => i += 1,
        }
    }
    if single < rows.len() {
        out.push(Block {
            rows: &rows[single..],
            repeated: None,
        });
    }
    out
}

/// The row above a folded group: how many rows repeat, how often, and the
/// events they cover.
fn fold_row(svg: &mut Svg, rows: usize, times: usize, (first, last): (usize, usize)) {
    svg.shade(ROW);
    let text = format!(
        "↻ the {} below ran ×{times} in a row (events #{first}–#{last}); shown once",
        if rows == 1 {
            "row".to_owned()
        } else {
            format!("{rows} rows")
        }
    );
    let _ = writeln!(
        svg.body,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="13" font-weight="700" fill="{C_RET}">{}</text>"#,
        (svg.at.ndis + svg.at.driver) / 2,
        svg.y + ROW - 10,
        esc(&text)
    );
    svg.y += ROW;
}

/// NDIS passes these DDIs on to a client (its protocol handlers).
fn reaches_client(name: &str) -> bool {
    [
        "NdisCmDispatch",
        "NdisMCoIndicateReceive",
        "NdisMCoSendNetBufferListsComplete",
        "NdisCmCloseCallComplete",
        "NdisCmNotifyCloseAddressFamily",
        "NdisMCmCreateVc",
        "NdisMCmDeleteVc",
        "NdisCmAddPartyComplete",
        "NdisCmDropPartyComplete",
        "NdisCmMakeCallComplete",
        "NdisCmOpenAddressFamilyComplete",
        "NdisCmRegisterSapComplete",
        "NdisCmDeregisterSapComplete",
        "NdisCmCloseAddressFamilyComplete",
        "NdisCmModifyCallQoSComplete",
        "NdisMCmIndicate",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut t: String = text.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// The SVG document.
struct Svg {
    body: String,
    y: u32,
    row: usize,
    at: Layout,
}

impl Svg {
    fn shade(&mut self, h: u32) {
        if self.row % 2 == 1 {
            let _ = writeln!(
                self.body,
                r##"<rect x="0" y="{}" width="{}" height="{h}" fill="#f3f5f8"/>"##,
                self.y, self.at.width
            );
        }
        self.row += 1;
    }

    /// A horizontal arrow at the current row's arrow line.
    fn arrow(&mut self, from: u32, to: u32, color: &str, dashed: bool, label: &str, bold: bool) {
        let y = self.y + ROW - 9;
        let dash = if dashed { r#" stroke-dasharray="7 5""# } else { "" };
        let _ = writeln!(
            self.body,
            r#"<line x1="{from}" y1="{y}" x2="{to}" y2="{y}" stroke="{color}" stroke-width="1.6"{dash}/>"#
        );
        let (tip, back) = if to > from { (to, to - 10) } else { (to, to + 10) };
        if dashed {
            let _ = writeln!(
                self.body,
                r#"<polyline points="{back},{} {tip},{y} {back},{}" fill="none" stroke="{color}" stroke-width="1.6"/>"#,
                y - 5,
                y + 5
            );
        } else {
            let _ = writeln!(
                self.body,
                r#"<polygon points="{back},{} {tip},{y} {back},{}" fill="{color}"/>"#,
                y - 5,
                y + 5
            );
        }
        if !label.is_empty() {
            let mid = (from + to) / 2;
            let weight = if bold { r#" font-weight="600""# } else { "" };
            let _ = writeln!(
                self.body,
                r#"<text x="{mid}" y="{}" text-anchor="middle" font-size="13" fill="{color}"{weight}>{}</text>"#,
                y - 5,
                esc(label)
            );
        }
    }

    fn gutter(&mut self, left: &str, detail: &str, color: &str) {
        let y = self.y + ROW - 10;
        let _ = writeln!(
            self.body,
            r##"<text x="14" y="{y}" font-size="11" fill="#6a737d" font-family="DejaVu Sans Mono, monospace">{}</text>"##,
            esc(left)
        );
        if !detail.is_empty() {
            let _ = writeln!(
                self.body,
                r#"<text x="{}" y="{y}" font-size="11.5" fill="{color}" font-family="DejaVu Sans Mono, monospace">{}</text>"#,
                self.at.detail,
                esc(&truncate(detail, DETAIL_CHARS))
            );
        }
    }
}

/// A dotted arrow on the clients' side of NDIS: what a client did that made
/// NDIS call covmini, or a DDI call NDIS passes on to a client. Its label
/// (which client) ends just left of NDIS's lifeline, in the gap no client
/// lane crosses, so labels never sit on a lifeline whichever lane the arrow
/// reaches; a white halo keeps it clear of the arrow's dots.
fn relay(svg: &mut Svg, from: u32, to: u32, color: &str, label: &str) {
    let y = svg.y + ROW - 9;
    let back = if to > from { to - 10 } else { to + 10 };
    let _ = writeln!(
        svg.body,
        r#"<line x1="{from}" y1="{y}" x2="{back}" y2="{y}" stroke="{color}" stroke-width="1.3" stroke-dasharray="2 4"/><polygon points="{back},{} {to},{y} {back},{}" fill="{color}"/>"#,
        y - 4,
        y + 4
    );
    let _ = writeln!(
        svg.body,
        r##"<text x="{}" y="{}" text-anchor="end" font-size="11.5" font-style="italic" fill="{color}" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
        svg.at.ndis - 16,
        y - 5,
        esc(label)
    );
}

/// Handlers NDIS calls because a client called NDIS (a CoNDIS client's
/// request, send or NBL return).
fn from_client(name: &str) -> bool {
    name.starts_with("ProtocolCm") && !name.ends_with("VcComplete")
        || name.starts_with("ProtocolCo")
        || matches!(
            name,
            "MiniportCoSendNetBufferLists" | "MiniportReturnNetBufferLists" | "MiniportCoOidRequest"
        )
}

/// Draws one trace row; `client` is the lane its relay reaches, by name
/// (`None`: unknown).
fn event_row(svg: &mut Svg, events: &[Event], run: Run, bad: bool, client: (Option<usize>, Option<&str>)) {
    let e = &events[run.first];
    svg.shade(ROW);
    let last = &events[run.first + run.count - 1];
    let irql = if e.irql == last.irql {
        format!("IRQL {}", e.irql)
    } else {
        format!("IRQL {}–{}", e.irql, last.irql)
    };
    let left = if run.count > 1 {
        format!("#{}–{}  {irql}", e.seq, last.seq)
    } else {
        format!("#{}  {irql}", e.seq)
    };
    let pick = |normal: &'static str| if bad { C_BAD } else { normal };
    let name = if run.calls > 1 {
        format!("{} ×{}", e.name, run.calls)
    } else {
        e.name.to_owned()
    };
    // A DDI that returned a value: the call's arguments, then the value.
    let returned = (run.count == 2 * run.calls && run.count > 1)
        .then(|| events.get(run.first + 1))
        .flatten()
        .map(|r| r.detail());
    let mut detail = match returned {
        Some(r) => {
            let r = r.strip_prefix("-> ").unwrap_or(&r).to_owned();
            format!("{} → {r}", e.detail()).trim_start_matches(" → ").to_owned()
        }
        None => e.detail(),
    };
    if run.calls > 1 && !detail.is_empty() {
        detail = format!("first: {detail}");
    }
    let (lane, who) = (svg.at.client(client.0), client.1.unwrap_or("a client"));
    let (ndis, driver) = (svg.at.ndis, svg.at.driver);
    let color;
    match e.dir {
        "->" => {
            color = pick(C_CALL);
            svg.arrow(ndis, driver, color, false, &name, true);
            if from_client(e.name) {
                relay(svg, lane, ndis, color, &format!("from {who}"));
            }
        }
        "<-" => {
            color = pick(C_RET);
            // A handler that returns a status carries it by name; one that
            // returns nothing (VOID) says only that it returned.
            let label = match e.detail.first_status() {
                Some(s) => {
                    detail = format!("status {detail}");
                    format!("{name} returns {}", Status(s))
                }
                None => format!("{name} returns"),
            };
            svg.arrow(driver, ndis, color, true, &label, false);
        }
        "!!" => {
            color = pick(C_FAULT);
            let _ = writeln!(
                svg.body,
                r#"<text x="{ndis}" y="{}" text-anchor="middle" font-size="13" font-weight="700" fill="{color}">⚡ injected fault: {}</text>"#,
                svg.y + ROW - 10,
                esc(&name)
            );
        }
        _ => {
            color = pick(C_DDI);
            svg.arrow(driver, ndis, color, false, &name, false);
            if reaches_client(e.name) {
                relay(svg, ndis, lane, color, &format!("to {who}"));
            }
        }
    }
    svg.gutter(&left, &detail, if bad { C_BAD } else { "#3a4350" });
    svg.y += ROW;
}

/// Whether an event has a relay to or from a client's lane.
fn relayed(e: &Event) -> bool {
    (e.dir == "->" && from_client(e.name)) || (e.dir == "=>" && reaches_client(e.name))
}

/// The client lane of each relayed event in `step`'s range (others: none),
/// written into `out`. `unreturned` carries, across steps, the client of
/// each receive indication not returned yet, oldest first: NDIS returns
/// them in that order, and MiniportReturnNetBufferLists names no VC.
fn client_lanes(
    events: &[Event],
    step: &Step,
    lanes: &Lanes,
    unreturned: &mut VecDeque<Option<usize>>,
    out: &mut [Option<usize>],
) {
    for k in step.events.clone() {
        let (Some(e), Some(slot)) = (events.get(k), out.get_mut(k)) else {
            continue;
        };
        if !relayed(e) {
            continue;
        }
        let owner = lanes.owner_in(&e.detail);
        *slot = match (e.dir, e.name) {
            ("=>", "NdisMCoIndicateReceiveNetBufferLists") => {
                // NDIS_RECEIVE_FLAGS_RESOURCES (0x2): returned at once, not
                // later. The detail's hex numbers: VC, NBLs, flags.
                let flags = e.detail.hex().nth(2).unwrap_or(0);
                if flags & 0x2 == 0 {
                    unreturned.push_back(owner);
                }
                owner
            }
            ("->", "MiniportReturnNetBufferLists") => unreturned.pop_front().flatten(),
            ("->", _) => owner.or(step.client),
            _ => owner,
        };
    }
}

fn band(svg: &mut Svg, n: usize, step: &Step) {
    let width = svg.at.width;
    let (fill, edge) = match (step.skipped, step.ok()) {
        (true, _) => ("#eeeeee", "#bbbbbb"),
        (false, true) => ("#e3edfb", "#9bb8e6"),
        (false, false) => ("#fbe3e3", "#e69b9b"),
    };
    let _ = writeln!(
        svg.body,
        r#"<rect x="6" y="{}" width="{}" height="{}" rx="5" fill="{fill}" stroke="{edge}"/>"#,
        svg.y + 3,
        width - 12,
        BAND - 6
    );
    let mark = match (step.skipped, step.ok()) {
        (true, _) => "skipped",
        (false, true) => "✓",
        (false, false) => "✗ FAILED",
    };
    let mut text = match step.line {
        Some(l) => format!("{} (line {l})", step.text),
        None => step.text.clone(),
    };
    if let Some(s) = &step.status {
        text = format!("{text} → {s}");
    }
    if step.skipped {
        text = format!("{text} → skipped: not run, an earlier step failed");
    }
    let _ = writeln!(
        svg.body,
        r##"<text x="18" y="{}" font-size="14.5" font-weight="700" fill="#17263d">Step {n}: {}</text>"##,
        svg.y + 23,
        esc(&text)
    );
    let _ = writeln!(
        svg.body,
        r#"<text x="{}" y="{}" text-anchor="end" font-size="14.5" font-weight="700" fill="{}">{mark}</text>"#,
        width - 20,
        svg.y + 23,
        match (step.skipped, step.ok()) {
            (true, _) => C_RET,
            (false, true) => C_DDI,
            (false, false) => C_BAD,
        }
    );
    svg.y += BAND;
    svg.row = 0;
}

fn violation_row(svg: &mut Svg, report: &Report, i: usize) {
    let v = &report.violations[i];
    let text = format!("✗ VIOLATION [{}] in {}: {}", v.rule.id(), v.call, v.detail);
    let _ = writeln!(
        svg.body,
        r##"<rect x="6" y="{}" width="{}" height="{}" fill="#fdecec" stroke="{C_BAD}" stroke-width="1.2"/>"##,
        svg.y + 2,
        svg.at.width - 12,
        ROW - 4
    );
    let _ = writeln!(
        svg.body,
        r#"<text x="18" y="{}" font-size="13" font-weight="700" fill="{C_BAD}">{}</text>"#,
        svg.y + ROW - 10,
        esc(&truncate(&text, 170))
    );
    svg.y += ROW;
}

/// The index of the event a violation happened in: the last event in `range`
/// named like the violation's call.
fn culprit(report: &Report, range: std::ops::Range<usize>, call: &str) -> Option<usize> {
    range
        .rev()
        .find(|&k| report.events.get(k).is_some_and(|e| e.name == call))
}

/// The sequence diagram of a run: `lanes` names the clients and which NDIS
/// handles each owns.
#[must_use]
pub fn render(report: &Report, steps: &[Step], lanes: &Lanes, title: &str) -> String {
    let at = Layout::new(lanes.names.len());
    let (width, ndis, driver, detail) = (at.width, at.ndis, at.driver, at.detail);
    let mut svg = Svg {
        body: String::new(),
        y: TOP + HEAD + 10,
        row: 0,
        at,
    };
    let mut groups: Vec<Step> = steps.to_vec();
    let seen_e = steps.last().map_or(0, |s| s.events.end);
    let seen_v = steps.last().map_or(0, |s| s.violations.end);
    if seen_e < report.events.len() || seen_v < report.violations.len() {
        groups.push(Step {
            text: "after the last step: unload checks (leaks)".to_owned(),
            phase: "driver",
            line: None,
            client: None,
            status: None,
            failure: (seen_v != report.violations.len()).then(|| "leaks".to_owned()),
            skipped: false,
            events: seen_e..report.events.len(),
            violations: seen_v..report.violations.len(),
        });
    }
    let mut client_of = vec![None; report.events.len()];
    let mut unreturned = VecDeque::new();
    for step in &groups {
        client_lanes(&report.events, step, lanes, &mut unreturned, &mut client_of);
    }
    for (i, step) in groups.iter().enumerate() {
        band(&mut svg, i + 1, step);
        let (events, violations) = (step.events.clone(), step.violations.clone());
        let bad: Vec<usize> = violations
            .clone()
            .filter_map(|i| culprit(report, events.clone(), report.violations[i].call))
            .collect();
        let slice = report.events.get(events.clone()).unwrap_or(&[]);
        let slice_lanes = client_of.get(events.clone()).unwrap_or(&[]);
        let rows: Vec<Run> = collapse(slice, slice_lanes, COLLAPSE_MIN_RUN)
            .into_iter()
            .map(|run| Run {
                first: run.first + events.start,
                ..run
            })
            .collect();
        let is_bad = |r: &Run| (r.first..r.first + r.count).any(|k| bad.contains(&k));
        let key = |r: &Run| {
            let e = &report.events[r.first];
            let lane = client_of.get(r.first).copied().flatten();
            (e.dir, e.name, lane, r.calls, r.count, is_bad(r))
        };
        for block in fold(&rows, key) {
            if let Some((times, last)) = block.repeated {
                fold_row(&mut svg, block.rows.len(), times, (block.rows[0].first, last));
            }
            for &abs in block.rows {
                let lane = client_of.get(abs.first).copied().flatten();
                let name = lane.and_then(|c| lanes.names.get(c)).map(String::as_str);
                event_row(&mut svg, &report.events, abs, is_bad(&abs), (lane, name));
            }
        }
        for i in violations {
            violation_row(&mut svg, report, i);
        }
    }
    let bottom = svg.y + 12;
    let height = bottom + HEAD + 20;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(out, "<title>{}</title>", esc(title));
    let _ = writeln!(
        out,
        r##"<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        out,
        r##"<text x="20" y="36" font-size="22" font-weight="700" fill="#17263d">{}</text>"##,
        esc(title)
    );
    let handlers = report.events.iter().filter(|e| e.dir == "->").count();
    let ddis = report.events.iter().filter(|e| e.dir == "=>").count();
    let verdict = if report.is_clean() {
        "clean: zero violations, zero leaks".to_owned()
    } else {
        format!("{} violation(s)", report.violations.len())
    };
    let _ = writeln!(
        out,
        r##"<text x="20" y="60" font-size="13.5" fill="#3a4350">{} step(s) · {} events · {handlers} handler calls by NDIS · {ddis} DDI calls by covmini · {}</text>"##,
        steps.len(),
        report.events.len(),
        esc(&verdict)
    );
    legend(&mut out, width);
    let mut heads: Vec<(u32, u32, String)> = svg
        .at
        .clients
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let name = lanes.names.get(i).map_or("client(s)", String::as_str);
            (*x, CLIENT_HEAD_W, truncate(name, CLIENT_HEAD_CHARS))
        })
        .collect();
    heads.push((ndis, HEAD_W, "NDIS (ndis-emu)".to_owned()));
    heads.push((driver, HEAD_W, "covmini".to_owned()));
    for (x, _, _) in &heads {
        let _ = writeln!(
            out,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{bottom}" stroke="#9aa5b1" stroke-width="1.2" stroke-dasharray="5 5"/>"##,
            TOP + HEAD
        );
    }
    out.push_str(&svg.body);
    for (x, w, name) in &heads {
        for y in [TOP, bottom] {
            head(&mut out, *x, y, *w, name);
        }
    }
    let _ = writeln!(
        out,
        r##"<text x="{detail}" y="{}" font-size="13" font-weight="700" fill="#6a737d">arguments · objects · status</text>"##,
        TOP + HEAD / 2 + 5
    );
    out.push_str("</svg>\n");
    out
}

fn head(out: &mut String, x: u32, y: u32, w: u32, name: &str) {
    let _ = writeln!(
        out,
        r##"<rect x="{}" y="{y}" width="{w}" height="{HEAD}" rx="6" fill="#17263d"/><text x="{x}" y="{}" text-anchor="middle" font-size="16" font-weight="700" fill="#ffffff">{}</text>"##,
        x - w / 2,
        y + HEAD / 2 + 6,
        esc(name)
    );
}

fn legend(out: &mut String, width: u32) {
    let (x0, y0) = (20, 78);
    let _ = writeln!(
        out,
        r##"<rect x="{}" y="{}" width="{}" height="76" rx="6" fill="#fafbfc" stroke="#d0d7de"/>"##,
        x0,
        y0,
        width - 40
    );
    let items: [(&str, &str, bool, &str); 4] = [
        ("->", C_CALL, false, "NDIS calls a covmini handler"),
        ("<-", C_RET, true, "the handler returns (status)"),
        ("=>", C_DDI, false, "covmini calls an NDIS DDI"),
        ("", C_BAD, false, "contract violation [rule id]"),
    ];
    for (i, (dir, color, dashed, text)) in items.iter().enumerate() {
        let x = x0 + 16 + u32::try_from(i).unwrap_or(0) * 355;
        let y = y0 + 26;
        let dash = if *dashed { r#" stroke-dasharray="7 5""# } else { "" };
        let _ = writeln!(
            out,
            r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="2"{dash}/><polygon points="{},{} {},{y} {},{}" fill="{color}"/>"#,
            x + 50,
            x + 44,
            y - 5,
            x + 54,
            x + 44,
            y + 5
        );
        let label = if dir.is_empty() {
            (*text).to_owned()
        } else {
            format!("{dir}  {text}")
        };
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="13" fill="{color}">{}</text>"#,
            x + 64,
            y + 5,
            esc(&label)
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" font-size="12.5" fill="#3a4350">Dotted arrows: a client’s request reaching NDIS, or NDIS passing a call on to a client (one lane per client). “×N”: N identical consecutive calls in one row; “↻ ×N”: a group of rows that ran N times, shown once. Left column: sequence number and IRQL. Bands: the steps.</text>"##,
        x0 + 16,
        y0 + 58
    );
}

#[cfg(test)]
mod tests {
    use ndis_emu::rules::MEMORY_LEDGER;
    use ndis_emu::{Detail, Violation, detail};
    use ndis_sys::{NDIS_STATUS_NOT_ACCEPTED, NDIS_STATUS_PENDING};

    use super::*;

    fn ev(seq: u64, dir: &'static str, name: &'static str, detail: &str) -> Event {
        Event {
            seq,
            cpu: 0,
            irql: 0,
            dir,
            name,
            detail: if detail.is_empty() {
                Detail::EMPTY
            } else {
                Detail::text(detail)
            },
        }
    }

    /// A handler's return with its status, as ndis-emu records it.
    fn ret(seq: u64, name: &'static str, status: i32) -> Event {
        Event {
            detail: Detail::status(status),
            ..ev(seq, "<-", name, "")
        }
    }

    /// The diagram of `events` as one unnamed step of `phase`, no lanes.
    fn render_one_step(events: Vec<Event>, phase: &'static str) -> String {
        let steps = [Step {
            text: "s".to_owned(),
            phase,
            line: None,
            client: None,
            status: None,
            failure: None,
            skipped: false,
            events: 0..events.len(),
            violations: 0..0,
        }];
        let report = Report {
            events,
            ..Report::default()
        };
        render(&report, &steps, &Lanes::default(), "t")
    }

    /// Checks that every tag is closed in order and every `&` starts an entity.
    fn assert_well_formed(svg: &str) {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let text = &rest[..open];
            assert!(!text.contains('>'), "stray '>' in text {text:?}");
            for (i, _) in text.match_indices('&') {
                let ent = &text[i..];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                        .iter()
                        .any(|e| ent.starts_with(e)),
                    "bare & in {text:?}"
                );
            }
            let close = rest[open..].find('>').expect("unclosed tag") + open;
            let tag = &rest[open + 1..close];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name.trim()), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().unwrap_or_default();
                stack.push(name.to_owned());
            }
            let quotes = tag.matches('"').count();
            assert_eq!(quotes % 2, 0, "unbalanced quotes in <{tag}>");
            rest = &rest[close + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert!(rest.trim().is_empty());
    }

    #[test]
    fn long_runs_collapse_and_short_ones_do_not() {
        let mut events = vec![ev(0, "->", "ProtocolCmOpenAf", "")];
        for k in 1..=300 {
            events.push(ev(k, "=>", "NdisAllocateNetBufferAndNetBufferList", ""));
        }
        events.push(ev(301, "=>", "DbgPrintEx", "a"));
        events.push(ev(302, "=>", "DbgPrintEx", "b"));
        events.push(ev(303, "<-", "ProtocolCmOpenAf", ""));
        let rows = collapse(&events, &[], COLLAPSE_MIN_RUN);
        let one = |first| Run {
            first,
            count: 1,
            calls: 1,
        };
        assert_eq!(
            rows,
            vec![
                one(0),
                Run {
                    first: 1,
                    count: 300,
                    calls: 300
                },
                one(301),
                one(302),
                one(303),
            ]
        );
        // A handler entry and its return share a name but not a direction.
        assert_eq!(collapse(&events[..1], &[], 1), vec![one(0)]);
        // Deliveries to different clients' lanes stay apart.
        let fan: Vec<Event> = (0..6)
            .map(|k| ev(k, "=>", "NdisMCoIndicateReceiveNetBufferLists", ""))
            .collect();
        let lanes = [Some(1), Some(2), Some(1), Some(2), Some(1), Some(2)];
        assert_eq!(collapse(&fan, &lanes, COLLAPSE_MIN_RUN).len(), 6);
        assert_eq!(collapse(&fan, &[Some(1); 6], COLLAPSE_MIN_RUN).len(), 1);
    }

    #[test]
    fn the_diagram_is_well_formed_escaped_and_labelled() {
        let mut events = vec![ev(0, "->", "MiniportInitializeEx", "")];
        for k in 1..=10 {
            events.push(ev(
                k,
                "=>",
                "NdisAllocateNetBufferAndNetBufferList",
                "pool <0x1> & \"x\"",
            ));
        }
        events.push(ev(11, "=>", "NdisCmDispatchIncomingCall", "SAP 0x1 VC 0x2"));
        events.push(ret(12, "MiniportInitializeEx", 0));
        let report = Report {
            violations: vec![Violation {
                rule: MEMORY_LEDGER,
                call: "MiniportInitializeEx",
                detail: "leaked <24> bytes & more".to_owned(),
                history: Vec::new(),
                cpu: 0,
            }],
            events,
            debug_output: Vec::new(),
        };
        let steps = [Step {
            text: "add <the> adapter".to_owned(),
            phase: "driver",
            line: Some(4),
            client: None,
            status: Some("SUCCESS".to_owned()),
            failure: None,
            skipped: false,
            events: 0..13,
            violations: 0..1,
        }];
        let svg = render(&report, &steps, &Lanes::default(), "a \"test\" & title");
        assert!(svg.starts_with("<svg"));
        assert_well_formed(&svg);
        for want in [
            "client(s)",
            "NDIS (ndis-emu)",
            "covmini",
            "NdisAllocateNetBufferAndNetBufferList ×10",
            "MiniportInitializeEx returns SUCCESS",
            "status SUCCESS",
            "[memory.ledger]",
            "Step 1: add &lt;the&gt; adapter (line 4) → SUCCESS",
            "a &quot;test&quot; &amp; title",
            "to a client",
        ] {
            assert!(svg.contains(want), "missing {want:?}");
        }
        assert!(svg.contains(C_BAD), "violations are drawn red");
    }

    /// Each client has its lane; an event's relay reaches the lane of the
    /// client owning the handle it names, a returned receive the client the
    /// oldest unreturned indication went to, and a request naming no known
    /// handle comes from the step's acting client.
    #[test]
    fn relays_reach_the_lane_of_the_client_owning_the_handle() {
        let with = |seq, dir, name, detail: Detail| Event {
            detail,
            ..ev(seq, dir, name, "")
        };
        let receive = |seq, vc: usize, nbls: usize, flags: u32| {
            let d = detail!("VC {x} {x} x{} flags {x}", vc, nbls, 1u32, flags);
            with(seq, "=>", "NdisMCoIndicateReceiveNetBufferLists", d)
        };
        let events = vec![
            with(
                0,
                "->",
                "MiniportCoSendNetBufferLists",
                detail!("VC {x}, {} NBL(s)", 0xa0usize, 2usize),
            ),
            receive(1, 0xc0, 0x5000, 0x1),
            receive(2, 0xe0, 0x5100, 0x1),
            receive(3, 0xe0, 0x5200, 0x3),
            ev(4, "<-", "MiniportCoSendNetBufferLists", ""),
            with(5, "->", "MiniportReturnNetBufferLists", detail!("{} NBL(s)", 1usize)),
            with(6, "->", "MiniportReturnNetBufferLists", detail!("{} NBL(s)", 1usize)),
            with(7, "->", "ProtocolCmCloseCall", detail!("{x}", 0x999usize)),
        ];
        let lanes = Lanes {
            names: vec!["alice".into(), "bob".into(), "carol".into()],
            owners: [(0xa0, 0), (0xc0, 1), (0xe0, 2)].into_iter().collect(),
        };
        let step = Step {
            text: "alice sends".to_owned(),
            phase: "data",
            line: Some(9),
            client: Some(0),
            status: None,
            failure: None,
            skipped: false,
            events: 0..events.len(),
            violations: 0..0,
        };
        let mut out = vec![None; events.len()];
        client_lanes(&events, &step, &lanes, &mut VecDeque::new(), &mut out);
        assert_eq!(
            out,
            [Some(0), Some(1), Some(2), Some(2), None, Some(1), Some(2), Some(0)],
            "the RESOURCES indication (flags 0x3) is not returned later"
        );
        let report = Report {
            events,
            ..Report::default()
        };
        let svg = render(&report, &[step], &lanes, "lanes");
        assert_well_formed(&svg);
        let texts = |t: &str| svg.matches(&format!(">{t}</text>")).count();
        assert_eq!(texts("alice"), 2, "a head at the top and the bottom");
        assert_eq!((texts("bob"), texts("carol")), (2, 2));
        assert_eq!(texts("from alice"), 2, "the send, and the close naming no known handle");
        assert_eq!((texts("to bob"), texts("to carol")), (1, 2));
        assert_eq!((texts("from bob"), texts("from carol")), (1, 1), "the returns");
    }

    /// A DDI that returns a value (its call, then `-> value` next in the
    /// trace) is one call: one row, its arguments and the value together;
    /// a run of such calls counts calls, not events.
    #[test]
    fn a_ddi_that_returns_a_value_takes_one_row() {
        let events = vec![
            ev(0, "=>", "NdisAllocateIoWorkItem", "0xa0"),
            ev(1, "=>", "NdisAllocateIoWorkItem", "-> work item 0xb0"),
            ev(2, "=>", "NdisQueueIoWorkItem", "work item 0xb0"),
        ];
        let rows = collapse(&events, &[], COLLAPSE_MIN_RUN);
        assert_eq!(
            rows,
            [
                Run {
                    first: 0,
                    count: 2,
                    calls: 1
                },
                Run {
                    first: 2,
                    count: 1,
                    calls: 1
                }
            ]
        );
        let svg = render_one_step(events, "driver");
        assert_well_formed(&svg);
        assert_eq!(svg.matches(">NdisAllocateIoWorkItem</text>").count(), 1);
        assert!(svg.contains("0xa0 → work item 0xb0"), "{svg}");
        // 5 allocations with their values: one row, ×5 calls.
        let mut pairs = Vec::new();
        for k in 0..5 {
            pairs.push(ev(2 * k, "=>", "NdisAllocateNetBufferList", "0x10 context 0+0"));
            pairs.push(ev(2 * k + 1, "=>", "NdisAllocateNetBufferList", "-> NBL 0x20"));
        }
        assert_eq!(
            collapse(&pairs, &[], COLLAPSE_MIN_RUN),
            [Run {
                first: 0,
                count: 10,
                calls: 5
            }]
        );
    }

    /// A handler's return arrow names its status (PENDING, NOT_ACCEPTED,
    /// an unknown one as hex); a VOID handler's says only that it returned.
    #[test]
    fn a_handler_return_carries_its_status_by_name() {
        let events = vec![
            ret(0, "ProtocolCmMakeCall", NDIS_STATUS_PENDING),
            ret(1, "ProtocolCmIncomingCall", NDIS_STATUS_NOT_ACCEPTED),
            ret(2, "ProtocolCmCloseCall", 0x0123_4567),
            ev(3, "<-", "MiniportHaltEx", ""),
        ];
        let svg = render_one_step(events, "call");
        for want in [
            ">ProtocolCmMakeCall returns PENDING<",
            ">ProtocolCmIncomingCall returns NOT_ACCEPTED<",
            ">ProtocolCmCloseCall returns 0x01234567<",
            ">MiniportHaltEx returns<",
        ] {
            assert!(svg.contains(want), "missing {want:?}");
        }
    }

    /// Rows that repeat in a group fold into the group once with ×N; rows
    /// that differ (another name, a violation's verdict) do not fold, and
    /// too few repeats stay as they are.
    #[test]
    fn repeated_runs_of_rows_fold_once_with_their_count() {
        let row = |first| Run {
            first,
            count: 1,
            calls: 1,
        };
        let rows: Vec<Run> = (0..302).map(row).collect();
        // Keys: x, then (a b c) ×100, then y.
        let key = |r: &Run| match r.first {
            0 => "x",
            301 => "y",
            k => ["a", "b", "c"][(k - 1) % 3],
        };
        let blocks = fold(&rows, key);
        assert_eq!(blocks.len(), 3, "{blocks:?}");
        assert_eq!((blocks[0].rows, blocks[0].repeated), (&rows[0..1], None));
        assert_eq!((blocks[1].rows, blocks[1].repeated), (&rows[1..4], Some((100, 300))));
        assert_eq!((blocks[2].rows, blocks[2].repeated), (&rows[301..], None));
        // Two repeats are not enough to fold.
        let blocks = fold(&rows[..7], key);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].repeated, None);
        // One odd row in the middle splits the fold.
        let odd = |r: &Run| if r.first == 151 { "z" } else { key(r) };
        assert!(fold(&rows, odd).iter().all(|b| b.repeated.is_none_or(|(n, _)| n < 100)));
    }

    /// A skipped step's band says so, in grey, with no tick or cross.
    #[test]
    fn a_skipped_step_is_named_in_its_band() {
        let steps = [Step {
            text: "alice sends".to_owned(),
            phase: "data",
            line: Some(9),
            client: Some(0),
            status: None,
            failure: None,
            skipped: true,
            events: 0..0,
            violations: 0..0,
        }];
        let svg = render(&Report::default(), &steps, &Lanes::default(), "t");
        assert!(svg.contains("Step 1: alice sends (line 9) → skipped: not run, an earlier step failed"));
        assert!(svg.contains(">skipped</text>") && !svg.contains(">✓</text>"));
    }
}
