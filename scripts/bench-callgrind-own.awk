# The driver's own instructions in one callgrind output file, for
# scripts/bench-callgrind.sh (BENCHMARKS.md, "Instructions").
#
# Usage: awk -v driver_re=REGEX -f bench-callgrind-own.awk callgrind.out
#   driver_re: an awk regular expression matching the driver's function
#   symbols (DriverEntry always is one).
# Prints: OWN SELF ENTRIES EXITS
#   OWN      the instructions executed while the driver runs: ENTRIES - EXITS
#   SELF     the driver functions' exclusive cost alone (a cross-check)
#   ENTRIES  the inclusive cost of every call from NDIS into a driver function
#   EXITS    the inclusive cost of every call from a driver function into NDIS
# Exits 1 (after printing) when code that is neither the driver's nor NDIS's
# is called by the driver and calls a DDI: its DDI calls could not be told
# apart from the driver's, so OWN would be wrong.
#
# NDIS is ndis-emu: its functions (ndis_emu::...) and the DDIs it exports
# (Ndis*, Ex*, Exp*, Ke*, Dbg* symbols), including the lookaside lists'
# Allocate and Free routines. Nested calls cancel: a handler a DDI calls is in
# ENTRIES and inside its DDI's inclusive cost in EXITS, and that DDI inside its
# caller's ENTRIES. Callgrind's recursion suffixes ('2) are ignored; both
# compressed ("(id) name") and plain names are read.

function norm(v,   i, key, rest) {
  if (v ~ /^\([0-9]+\)/) {
    i = index(v, ")"); key = substr(v, 1, i); rest = substr(v, i + 1); sub(/^ /, "", rest)
    if (rest != "") names[key] = rest
    v = names[key]
  }
  sub(/'[0-9]+$/, "", v)
  return v
}
function ddi(f) { return f ~ /^(Ndis|Exp?|Ke|Dbg)[A-Z][A-Za-z]*$/ || f ~ /^ndis_emu::ffi::lookaside::lookaside_(allocate|free)$/ }
function ndis(f) { return ddi(f) || f ~ /^<?ndis_emu::/ }
function driver(f) { return f == "DriverEntry" || f ~ driver_re }
/^fn=/ { fn = norm(substr($0, 4)); next }
/^cfn=/ { cfn = norm(substr($0, 5)); next }
/^calls=/ { pending = 1; next }
/^[0-9+*-]/ {
  if (pending) {
    pending = 0
    if (ndis(fn) && driver(cfn)) entry += $2
    else if (driver(fn) && ndis(cfn)) exit_ += $2
    else if (!ndis(fn) && !driver(fn) && ddi(cfn)) calls_ddi[fn] = calls_ddi[fn] " " cfn
    if (driver(fn) && !driver(cfn) && !ndis(cfn)) called_by_driver[cfn] = 1
  } else if (driver(fn)) self += $2
  next
}
END {
  bad = 0
  for (f in calls_ddi) if (f in called_by_driver) {
    print "unattributed: " f " (called by the driver) calls" calls_ddi[f] > "/dev/stderr"
    bad = 1
  }
  printf "%d %d %d %d\n", entry - exit_, self, entry, exit_
  exit bad
}
