//! `check_flows` and `clamp_flow` (covmini's QoS checks, pure): two
//! FLOWSPECs of arbitrary values, a link and an MTU. A clamped flow passes
//! the link checks it was clamped for, clamping changes only what is over
//! the link, and a flow `check_flow` accepts is left as it is.

use covmini::call_manager::{QosError, check_flow, check_flows, clamp_flow, link_bytes_per_second};
use ndis_sys::{FLOWSPEC, QOS_NOT_SPECIFIED};

use super::Input;

/// One input: a link (u64 bits/s), an MTU, then two FLOWSPECs.
pub fn run(data: &[u8]) {
    let mut i = Input::new(data);
    let link_bps = u64::from(i.u32()) << (i.u8() % 33);
    let mtu = i.u32();
    let (tx, rx) = (i.flow(), i.flow());
    let both = check_flows(&tx, &rx, link_bps, mtu);
    assert_eq!(
        both.is_ok(),
        check_flow(&tx, link_bps, mtu).is_ok() && check_flow(&rx, link_bps, mtu).is_ok()
    );
    let link = link_bytes_per_second(link_bps);
    for f in [tx, rx] {
        let (c, changed) = clamp_flow(&f, link_bps, mtu);
        let over = |v: u32, max: u32| v != QOS_NOT_SPECIFIED && v > max;
        assert!(
            !over(c.TokenRate, link) && !over(c.PeakBandwidth, link) && !over(c.MaxSduSize, mtu),
            "{c:?}"
        );
        assert_eq!(changed, c != f, "changed says what changed: {f:?} -> {c:?}");
        let untouched = FLOWSPEC {
            TokenRate: f.TokenRate,
            PeakBandwidth: f.PeakBandwidth,
            MaxSduSize: f.MaxSduSize,
            ..c
        };
        assert_eq!(untouched, f, "only the three link-bound fields change");
        if check_flow(&f, link_bps, mtu).is_ok() {
            assert!(!changed, "an acceptable flow is not clamped: {f:?}");
        }
        // A clamped flow is refused only for what clamping leaves alone.
        match check_flow(&c, link_bps, mtu) {
            Ok(()) | Err(QosError::RateAbovePeak) => {}
            Err(QosError::MaxSdu(0)) => assert!(f.MaxSduSize == 0 || mtu == 0, "{f:?} {c:?}"),
            Err(e) => panic!("a clamped flow still over the link: {e:?} {c:?}"),
        }
    }
}
