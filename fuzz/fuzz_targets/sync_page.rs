//! Sync pages written by a hostile peer: the input lays out the words of a
//! few slots (state and lock, recursion, sleepers) as any process that maps
//! the pages could, then drives transitions on them, with more peer writes
//! in between. Nothing may panic, and what each transition reports must
//! agree with what it left in the page.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_types::syncstate::{
    self, Changed, Refused, Shape, Slot, Step, Taken, describe, is_signaled, mutex_owner, try_take_all, try_take_any,
};

const SLOTS: usize = 4;
const OWNER: u32 = 0x7FFF_FFFF;
const ABANDONED: u32 = 0x8000_0000;

/// The input, read front to back; zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A thread id: mostly one of a few, so that owners meet.
    fn thread(&mut self) -> u32 {
        match self.u8() {
            b @ 0..=250 => 1 + u32::from(b % 4),
            _ => (self.u32() & OWNER).max(1),
        }
    }

    /// A shape, as the broker would give it (never read from the page).
    fn shape(&mut self) -> Shape {
        match self.u8() % 4 {
            0 => Shape::Event { manual_reset: true },
            1 => Shape::Event { manual_reset: false },
            2 => Shape::Mutex,
            _ => Shape::Semaphore { maximum: self.u32() },
        }
    }
}

/// A page as a peer left it.
fn lay(slot: &Slot, input: &mut Input<'_>) {
    let word = input.u64();
    slot.init(word as u32, input.u32());
    slot.overwrite(word);
    for _ in 0..input.u8() % 3 {
        slot.begin_sleep();
    }
}

#[derive(Clone, Copy)]
struct Seen {
    state: u32,
    lock: u32,
    recursion: u32,
}

fn seen(slot: &Slot) -> Seen {
    Seen { state: slot.state(), lock: slot.lock_holder(), recursion: slot.recursion() }
}

/// Whether taking a slot in this state reports it abandoned: a free
/// mutex marked abandoned (an owner re-entering is a normal take).
fn abandoned(shape: Shape, before: Seen, me: u32) -> bool {
    shape == Shape::Mutex && before.state & OWNER != me && before.state & ABANDONED != 0
}

/// What a take must have left in the slot.
fn check_take(slot: &Slot, shape: Shape, me: u32, before: Seen) {
    let now = seen(slot);
    match shape {
        Shape::Event { manual_reset: true } => assert_eq!(now.state, before.state, "a wait changed a manual event"),
        Shape::Event { manual_reset: false } => assert_eq!(now.state, before.state & !1, "auto-reset not reset"),
        Shape::Semaphore { .. } => assert_eq!(now.state, before.state - 1, "semaphore taken without a count"),
        Shape::Mutex => {
            assert_eq!(mutex_owner(now.state), Some(me), "a taken mutex is not the taker's");
            assert!(now.recursion >= 1, "owned with no acquisitions");
        }
    }
}

fn take(slot: &Slot, shape: Shape, me: u32, since: Option<u32>) {
    let before = seen(slot);
    match slot.try_take(shape, me, since) {
        Ok(Step::Done(taken)) => {
            check_take(slot, shape, me, before);
            assert_eq!(taken == Taken::Abandoned, abandoned(shape, before, me), "abandonment misreported");
        }
        Ok(Step::Blocked(state)) => {
            assert_eq!(state, before.state);
            assert_eq!(slot.state(), before.state, "a blocked wait changed the state");
        }
        Ok(Step::Locked) => assert_ne!(before.lock, 0, "locked without a lock"),
        Err(Refused::RecursionLimit) => assert!(before.recursion >= syncstate::MAX_RECURSION),
        Err(e) => panic!("a wait refused with {e:?}"),
    }
}

fn release_semaphore(slot: &Slot, count: u32, maximum: u32) {
    let before = seen(slot);
    match slot.release_semaphore(count, maximum) {
        Ok(Step::Done(Changed { previous, .. })) => {
            assert_eq!(previous, before.state);
            assert!(slot.state() <= maximum, "count {} above the maximum {maximum}", slot.state());
            assert_eq!(u64::from(slot.state()), u64::from(previous) + u64::from(count));
        }
        Err(Refused::TooManyPosts(previous)) => {
            assert_eq!(previous, before.state);
            assert_eq!(slot.state(), before.state, "a refused release changed the count");
        }
        Ok(Step::Locked) => assert_ne!(before.lock, 0),
        other => panic!("release_semaphore: {other:?}"),
    }
}

fn release_mutex(slot: &Slot, me: u32) {
    let before = seen(slot);
    match slot.release_mutex(me) {
        Ok(Step::Done(_)) if before.recursion > 1 => {
            assert_eq!(slot.recursion(), before.recursion - 1);
            assert_eq!(slot.state(), before.state, "a nested release freed the mutex");
        }
        Ok(Step::Done(_)) => assert_eq!(slot.state(), 0, "the last release did not free the mutex"),
        Ok(Step::Locked) => assert_ne!(before.lock, 0),
        Err(Refused::NotOwner) => assert_ne!(before.state & OWNER, me, "the owner was refused"),
        other => panic!("release_mutex: {other:?}"),
    }
}

fn abandon(slot: &Slot, gone: u32) {
    let before = seen(slot);
    match slot.abandon_if(|t| t == gone) {
        Step::Done(Changed { previous: true, .. }) => {
            assert_eq!(before.state & OWNER, gone);
            assert_eq!((slot.state(), slot.recursion()), (ABANDONED, 0));
        }
        Step::Done(_) => assert_eq!(slot.state(), before.state),
        Step::Locked => assert_ne!(before.lock, 0),
        Step::Blocked(_) => panic!("abandon_if blocked"),
    }
}

/// Distinct slots, picked by the bits of `mask`, and an order to lock them in.
fn pick<'a>(slots: &'a [Slot], shapes: &[Shape], mask: u8, rotate: u8) -> (Vec<(&'a Slot, Shape)>, Vec<usize>) {
    let chosen: Vec<(&Slot, Shape)> =
        (0..SLOTS).filter(|i| mask & (1 << i) != 0).map(|i| (&slots[i], shapes[i])).collect();
    let mut order: Vec<usize> = (0..chosen.len()).collect();
    if !order.is_empty() {
        let by = usize::from(rotate) % order.len();
        order.rotate_left(by);
    }
    (chosen, order)
}

fn take_all(chosen: &[(&Slot, Shape)], order: &[usize], me: u32) {
    if chosen.is_empty() {
        return;
    }
    let before: Vec<Seen> = chosen.iter().map(|(s, _)| seen(s)).collect();
    let mut states = vec![0; chosen.len()];
    match try_take_all(chosen, order, me, &mut states) {
        Ok(Step::Done(reported)) => {
            for (i, &(slot, shape)) in chosen.iter().enumerate() {
                assert_eq!(slot.lock_holder(), 0, "a wait-all left a lock");
                check_take(slot, shape, me, before[i]);
            }
            // The lowest index of an abandoned mutex, by index, not lock order.
            let lowest = chosen.iter().zip(&before).position(|(&(_, shape), &b)| abandoned(shape, b, me));
            assert_eq!(reported, lowest, "abandonment misreported");
        }
        _ => {
            for (i, &(slot, _)) in chosen.iter().enumerate() {
                let now = seen(slot);
                let was = before[i];
                assert_eq!((now.state, now.lock, now.recursion), (was.state, was.lock, was.recursion), "{i} changed");
            }
        }
    }
}

fn take_any(chosen: &[(&Slot, Shape)], me: u32, since: Option<u32>) {
    let before: Vec<Seen> = chosen.iter().map(|(s, _)| seen(s)).collect();
    let sinces = vec![since; chosen.len()];
    let mut states = vec![0; chosen.len()];
    if let Ok(Step::Done((i, taken))) = try_take_any(chosen, me, &sinces, &mut states) {
        check_take(chosen[i].0, chosen[i].1, me, before[i]);
        assert_eq!(taken == Taken::Abandoned, abandoned(chosen[i].1, before[i], me), "abandonment misreported");
        for (j, &(slot, _)) in chosen.iter().enumerate().take(i) {
            assert_eq!(slot.state(), before[j].state, "a lower index changed when a higher one won");
        }
    }
}

fn step(slots: &[Slot], shapes: &[Shape], input: &mut Input<'_>) {
    let op = input.u8();
    let i = usize::from(input.u8()) % SLOTS;
    let (slot, shape) = (&slots[i], shapes[i]);
    match op % 14 {
        0 => {
            let me = input.thread();
            let since = (input.u8() & 1 == 1).then(|| slot.generation());
            take(slot, shape, me, since);
        }
        1 => {
            if let Step::Done(_) = slot.set() {
                assert_eq!(slot.state() & 1, 1, "set left the event unsignaled");
            }
        }
        2 => {
            if let Step::Done(_) = slot.reset() {
                assert_eq!(slot.state() & 1, 0, "reset left the event signaled");
            }
        }
        3 => {
            let manual_reset = input.u8() & 1 == 1;
            let sleeping = slot.sleepers() > 0;
            if let Step::Done(_) = slot.pulse(manual_reset) {
                let signaled = slot.state() & 1 == 1;
                assert_eq!(signaled, !manual_reset && sleeping, "a pulse left the wrong state");
            }
        }
        4 => release_mutex(slot, input.thread()),
        5 => {
            let maximum = match shape {
                Shape::Semaphore { maximum } => maximum,
                _ => input.u32(),
            };
            release_semaphore(slot, input.u32(), maximum);
        }
        6 => abandon(slot, input.thread()),
        7 => {
            let before = seen(slot);
            let gone = input.thread();
            if slot.unlock_if(|t| t == gone) {
                assert_eq!((slot.state(), slot.lock_holder()), (before.state, 0));
            }
        }
        8 => {
            slot.force_abandon();
            assert_eq!((slot.state(), slot.lock_holder(), slot.recursion()), (ABANDONED, 0, 0));
        }
        9 => {
            let (chosen, order) = pick(slots, shapes, input.u8(), input.u8());
            take_all(&chosen, &order, input.thread());
        }
        10 => {
            let (chosen, _) = pick(slots, shapes, input.u8(), 0);
            let since = (input.u8() & 1 == 1).then_some(input.u32());
            take_any(&chosen, input.thread(), since);
        }
        // The peer writes again.
        11 => slot.overwrite(input.u64()),
        12 => lay(slot, input),
        _ => {
            if input.u8() & 1 == 0 {
                slot.begin_sleep();
            } else {
                slot.end_sleep();
            }
        }
    }
    // What an onlooker reads (`show`) must not panic either.
    let _ = describe(shape, slot.state(), slot.recursion());
    let _ = is_signaled(shape, slot.state());
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let slots: Vec<Slot> = (0..SLOTS).map(|_| Slot::new(0, 0)).collect();
    let shapes: Vec<Shape> = (0..SLOTS).map(|_| input.shape()).collect();
    for slot in &slots {
        lay(slot, &mut input);
    }
    while !input.is_empty() {
        step(&slots, &shapes, &mut input);
    }
});
