//! The wrapper over NBLs built in test memory (boxed, zeroed as NDIS
//! allocates them): the walks, the unlinking, the lending and the share
//! counting that `super::super::data` relies on. Under Miri (with
//! strict provenance, scripts/miri.sh) these also prove that no walk
//! reads freed or out-of-bounds memory or breaks the aliasing rules.
use super::rx::RxNbl;
use super::send::{AfterIndication, Completions, SendChain};
use super::*;
use core::ptr::null_mut;
use ndis_sys::{MDL, NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS};
use std::boxed::Box;
use std::vec;
use std::vec::Vec;

fn zeroed_nbl() -> Box<NET_BUFFER_LIST> {
    // SAFETY: NET_BUFFER_LIST is integers and raw pointers only: all
    // zeroes is a valid value of it.
    Box::new(unsafe { core::mem::zeroed() })
}
fn zeroed_nb() -> Box<NET_BUFFER> {
    // SAFETY: NET_BUFFER is integers and raw pointers only: all zeroes
    // is a valid value of it.
    Box::new(unsafe { core::mem::zeroed() })
}

/// Test memory for NBLs and NET_BUFFERs, freed at the end of a test,
/// addressed through raw pointers taken once (so the wrapper's accesses
/// keep their provenance).
struct Arena {
    nbls: Vec<*mut NET_BUFFER_LIST>,
    nbs: Vec<*mut NET_BUFFER>,
}
impl Arena {
    fn new() -> Self {
        Self {
            nbls: Vec::new(),
            nbs: Vec::new(),
        }
    }
    /// A send NBL over NET_BUFFERs of these lengths (MdlChain set to a
    /// distinct fake MDL address per NET_BUFFER, never dereferenced).
    fn send(&mut self, lengths: &[u64], mdl: *mut MDL) -> PNET_BUFFER_LIST {
        let nbl = Box::into_raw(zeroed_nbl());
        self.nbls.push(nbl);
        let mut prev: PNET_BUFFER = null_mut();
        for (i, &len) in lengths.iter().enumerate() {
            let nb = Box::into_raw(zeroed_nb());
            self.nbs.push(nb);
            // SAFETY: just allocated, ours.
            let r = unsafe { &mut *nb };
            r.stDataLength = len as _;
            r.MdlChain = mdl.wrapping_add(i);
            r.CurrentMdl = mdl.wrapping_add(i);
            r.CurrentMdlOffset = 3;
            r.DataOffset = 7 + i as u32;
            if prev.is_null() {
                // SAFETY: just allocated, ours.
                unsafe { (*nbl).FirstNetBuffer = nb };
            } else {
                // SAFETY: allocated above, ours.
                unsafe { (*prev).Next = nb };
            }
            prev = nb;
        }
        nbl
    }
    /// Links NBLs through Next, returns the head.
    fn chain(&self, nbls: &[PNET_BUFFER_LIST]) -> PNET_BUFFER_LIST {
        for w in nbls.windows(2) {
            // SAFETY: NBLs of this arena.
            unsafe { (*w[0]).Next = w[1] };
        }
        nbls.first().copied().unwrap_or(null_mut())
    }
    /// A receive NBL as the pool makes it: one empty NET_BUFFER.
    fn rx(&mut self) -> RxNbl {
        let nbl = self.send(&[0], null_mut());
        // SAFETY: a fresh NBL of this arena with one NET_BUFFER, named
        // by nothing else.
        unsafe { RxNbl::from_allocated(nbl) }.expect("not NULL")
    }
}
impl Drop for Arena {
    fn drop(&mut self) {
        for &p in &self.nbls {
            // SAFETY: from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(p) });
        }
        for &p in &self.nbs {
            // SAFETY: from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}
fn next_of(nbl: PNET_BUFFER_LIST) -> PNET_BUFFER_LIST {
    // SAFETY: a live NBL of the test's arena.
    unsafe { (*nbl).Next }
}
fn status_of(nbl: PNET_BUFFER_LIST) -> NDIS_STATUS {
    // SAFETY: a live NBL of the test's arena.
    unsafe { (*nbl).Status }
}

/// A send chain counts its NBLs and NET_BUFFERs, sets every Status, and
/// comes apart front first with each NBL unlinked only after its
/// successor was read (none is lost, none keeps a Next).
#[test]
fn send_chain_counts_sets_status_and_detaches_in_order() {
    let mut a = Arena::new();
    let mdl = null_mut::<MDL>();
    let nbls = [a.send(&[64, 1500], mdl), a.send(&[], mdl), a.send(&[9], mdl)];
    let head = a.chain(&nbls);
    // SAFETY: a NULL-terminated chain of the arena's, named by nothing else.
    let mut chain = unsafe { SendChain::from_raw(head) }.expect("not NULL");
    assert_eq!(chain.count(), (3, 3));
    chain.set_status(NDIS_STATUS_RESOURCES);
    assert!(nbls.iter().all(|&n| status_of(n) == NDIS_STATUS_RESOURCES));
    let mut seen = Vec::new();
    for send in chain {
        seen.push((send.nbl.raw(), send.measure()));
        assert!(send.nbl.next().is_null(), "detached");
    }
    assert_eq!(seen, vec![(nbls[0], (2, 1564)), (nbls[1], (0, 0)), (nbls[2], (1, 9))]);
    // SAFETY: NULL is no chain.
    assert!(unsafe { SendChain::from_raw(null_mut()) }.is_none());
}

/// DataLength is the low 32 bits of the union: garbage above it (the
/// SIZE_T view) is neither counted nor lent.
#[test]
fn data_length_is_the_low_32_bits() {
    let mut nb = zeroed_nb();
    nb.stDataLength = 0x0000_0001_0000_0040u64 as _;
    assert_eq!(data_length(&nb), 64);
}

/// The free list: push is LIFO at the front, split_front takes exactly
/// n (or nothing when fewer are there), prepend keeps both orders.
#[test]
fn rx_chain_push_pop_split_prepend() {
    let mut a = Arena::new();
    let rx: Vec<RxNbl> = (0..5).map(|_| a.rx()).collect();
    let addrs: Vec<_> = rx.iter().map(|r| r.nbl.raw()).collect();
    let mut list = RxChain::new();
    for r in rx {
        list.push(r);
    }
    assert_eq!(list.len(), 5);
    assert!(list.split_front(6).is_none());
    assert!(list.split_front(0).is_none());
    assert_eq!(list.len(), 5);
    let front = list.split_front(2).expect("5 >= 2");
    assert_eq!(front.len(), 2);
    assert_eq!(list.len(), 3);
    assert!(next_of(addrs[3]).is_null(), "the cut ends its chain");
    let front_addrs: Vec<_> = front.map(|r| r.into_raw()).collect();
    assert_eq!(front_addrs, vec![addrs[4], addrs[3]]);
    let all = list.split_front(3).expect("exactly 3");
    assert_eq!(list.len(), 0);
    assert!(list.pop().is_none());
    list.prepend(all);
    let mut extra = RxChain::new();
    // SAFETY: arena NBLs taken back out of `front` above, named by
    // nothing else now.
    extra.push(unsafe { RxNbl::from_allocated(addrs[4]) }.expect("not NULL"));
    list.prepend(extra);
    let order: Vec<_> = list.map(|r| r.into_raw()).collect();
    assert_eq!(order, vec![addrs[4], addrs[2], addrs[1], addrs[0]]);
}

/// Lending a two-NET_BUFFER send to two targets: each receive NBL's
/// own NET_BUFFER points at the sender's data (no copy), carries the
/// target's SourceHandle and the tags; the handler keeps the send until
/// its last target's indication, after which only the returns hold it,
/// and the last return (not an earlier one) gets it back with the
/// sender's token.
#[test]
fn lend_to_two_targets_then_the_last_return_completes() {
    let mut a = Arena::new();
    // A fake address, never read (no provenance: never dereferenced).
    let mdl = core::ptr::without_provenance_mut::<MDL>(0x1000);
    let send = a.send(&[64, 1500], mdl);
    let mut free = RxChain::new();
    for _ in 0..4 {
        free.push(a.rx());
    }
    // SAFETY: a one-NBL chain of the arena's.
    let chain = unsafe { SendChain::from_raw(send) }.expect("not NULL");
    let one = chain.into_iter().next().expect("one NBL");
    let (n, _) = one.measure();
    let mut batch = free.split_front(n * 2).expect("4 free");
    let mut lent = one.lend(n * 2, 0xAB);
    let mut indicated = Vec::new();
    for (target, token) in [(0x10usize, 1usize), (0x20, 2)] {
        let target_ndis: NDIS_HANDLE = core::ptr::without_provenance_mut(target);
        let seg = batch.lend_segment(&lent, n, target_ndis, token);
        assert_eq!(seg.len(), n);
        let head = seg.into_raw();
        indicated.push(head);
        let mut rx = head;
        let mut i = 0;
        while !rx.is_null() {
            // SAFETY: the arena's receive NBL, read only by the test.
            let nbl = unsafe { &*rx };
            // SAFETY: its NET_BUFFER, the arena's, read only by the test.
            let nb = unsafe { &*nbl.FirstNetBuffer };
            assert_eq!(nbl.SourceHandle, target_ndis);
            assert_eq!(nb.MdlChain, mdl.wrapping_add(i));
            assert_eq!(nb.DataOffset, 7 + i as u32);
            assert_eq!(nb.stDataLength as u64, [64, 1500][i]);
            rx = nbl.Next;
            i += 1;
        }
        assert_eq!(i, 2);
        lent = match lent.lent_out(n) {
            Some(l) => l,
            None => {
                assert_eq!(token, 2, "lent out only after the last target");
                break;
            }
        };
    }
    assert_eq!(batch.len(), 0);
    let mut completed = Vec::new();
    let mut returns = 0;
    for head in indicated {
        // SAFETY: receive NBLs "returned" by the test, as NDIS would.
        for mut rx in unsafe { Returned::from_raw(head) } {
            let (share, receiver) = rx.take_share().expect("lent");
            assert!(receiver == 1 || receiver == 2);
            assert!(rx.take_share().is_none(), "a share is taken once");
            rx.recycle();
            free.push(rx);
            returns += 1;
            if let Some((back, sender)) = share.release() {
                completed.push((returns, back.finish(NDIS_STATUS_SUCCESS), sender));
            }
        }
    }
    assert_eq!(
        completed,
        vec![(4, send, 0xAB)],
        "completed at the 4th return, not before"
    );
    assert_eq!(status_of(send), NDIS_STATUS_SUCCESS);
    assert_eq!(free.len(), 4);
    for rx in free {
        let p = rx.into_raw();
        // SAFETY: the arena's receive NBL, read only by the test.
        let first = unsafe { (*p).FirstNetBuffer };
        // SAFETY: its NET_BUFFER, the arena's, read only by the test.
        let nb = unsafe { &*first };
        assert!(nb.MdlChain.is_null() && nb.stDataLength == 0, "recycled");
    }
}

/// With NDIS_RECEIVE_FLAGS_RESOURCES every share comes back at the
/// indication: the send is the handler's again after the last target,
/// not before.
#[test]
fn resources_indications_bring_the_send_back_after_the_last_target() {
    let mut a = Arena::new();
    let send = a.send(&[64], null_mut());
    // SAFETY: a one-NBL chain of the arena's.
    let one = unsafe { SendChain::from_raw(send) }
        .expect("not NULL")
        .into_iter()
        .next()
        .expect("one");
    let lent = one.lend(3, 7);
    let AfterIndication::Held(lent) = lent.came_back(1) else {
        panic!("2 shares left")
    };
    let AfterIndication::Held(lent) = lent.came_back(1) else {
        panic!("1 share left")
    };
    let AfterIndication::Back(back) = lent.came_back(1) else {
        panic!("all back")
    };
    let mut done = Completions::new();
    assert!(Completions::new().into_raw().is_none());
    done.push(back, NDIS_STATUS_SUCCESS);
    assert_eq!(done.count(), 1);
    assert_eq!(done.into_raw(), Some(send));
}

/// Completions keep push order, link through Next and set each Status.
#[test]
fn completions_chain_in_order_with_statuses() {
    let mut a = Arena::new();
    let nbls = [
        a.send(&[1], null_mut()),
        a.send(&[2], null_mut()),
        a.send(&[3], null_mut()),
    ];
    let head = a.chain(&nbls);
    // SAFETY: a NULL-terminated chain of the arena's.
    let chain = unsafe { SendChain::from_raw(head) }.expect("not NULL");
    let mut done = Completions::new();
    for (i, send) in chain.into_iter().enumerate() {
        done.push(
            send,
            if i == 1 {
                NDIS_STATUS_RESOURCES
            } else {
                NDIS_STATUS_SUCCESS
            },
        );
    }
    assert_eq!(done.count(), 3);
    let head = done.into_raw().expect("3 NBLs");
    assert_eq!(head, nbls[0]);
    assert_eq!(next_of(nbls[0]), nbls[1]);
    assert_eq!(next_of(nbls[1]), nbls[2]);
    assert!(next_of(nbls[2]).is_null());
    assert_eq!(status_of(nbls[1]), NDIS_STATUS_RESOURCES);
    assert_eq!(status_of(nbls[2]), NDIS_STATUS_SUCCESS);
}

/// An NBL covmini never lent carries no share: the return path can tell.
#[test]
fn an_unlent_receive_nbl_has_no_share() {
    let mut a = Arena::new();
    let mut rx = a.rx();
    assert!(rx.take_share().is_none());
}
