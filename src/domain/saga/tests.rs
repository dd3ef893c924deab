//! Every (state, event) pair of the saga, and the rules one row at a time.
//! Long on purpose: it is the saga's specification, one test per rule, and
//! reads best as one table.

use super::*;
use OrderStatus as S;

const MAX: u32 = 5;
const DUE: i64 = 1_000;

fn at(step: Step, status: OrderStatus) -> Facts {
    Facts {
        status,
        step,
        attempts: 0,
        has_tracking: false,
        pay_on_place: false,
        reason: None,
        payment_due_at: Timestamp::from_millis(DUE),
        reserve_deadline: Timestamp::from_millis(DUE),
        max_attempts: MAX,
    }
}

fn before_due() -> Timestamp {
    Timestamp::from_millis(DUE - 1)
}

fn after_due() -> Timestamp {
    Timestamp::from_millis(DUE)
}

fn answered(call: Call, answer: Answer) -> Event {
    Event::Answered(call, answer)
}

fn why() -> String {
    "boom".into()
}

/// The compensation `decide` must start for `reason` from `o`.
fn compensation(
    o: &Facts,
    reason: Reason,
    kind: &'static str,
    detail: Option<&str>,
) -> Vec<Command> {
    vec![
        Command::Record(Move {
            status: o.status,
            step: Step::Compensate,
            kind,
            detail: detail.map(str::to_string),
            reason: Some(reason),
            tracking: None,
            answer: None,
        }),
        Command::Advance,
    ]
}

fn record(status: OrderStatus, step: Step, kind: &'static str) -> Command {
    Command::Record(Move::to(status, step, kind))
}

// ------------------------------------------------------------ every pair --

const STATUSES: [OrderStatus; 8] = OrderStatus::ALL;
const STEPS: [Step; 9] = Step::ALL;
const CALLS: [Call; 11] = [
    Call::Reserve,
    Call::Authorize,
    Call::Capture,
    Call::CommitStock,
    Call::CreateShipment,
    Call::AskCarrier,
    Call::StopShipment,
    Call::Undo {
        refund: false,
        cancel_shipment: false,
    },
    Call::Undo {
        refund: true,
        cancel_shipment: false,
    },
    Call::Undo {
        refund: false,
        cancel_shipment: true,
    },
    Call::Undo {
        refund: true,
        cancel_shipment: true,
    },
];

fn answers() -> Vec<Answer> {
    vec![
        Answer::Ok,
        Answer::Booked("T-1".into()),
        Answer::Parcel(Parcel::Preparing),
        Answer::Parcel(Parcel::Shipped),
        Answer::Parcel(Parcel::Delivered),
        Answer::Parcel(Parcel::Cancelled),
        Answer::Refused(RejectReason::OutOfStock, why()),
        Answer::Refused(RejectReason::NotOnSale, why()),
        Answer::Refused(RejectReason::PurchaseLimitExceeded, why()),
        Answer::Lost(why()),
        Answer::Declined(why()),
        Answer::Failed(why()),
        Answer::Unreachable(why()),
    ]
}

fn events() -> Vec<Event> {
    let mut events = vec![
        Event::Advance,
        Event::Pay,
        Event::Cancel,
        Event::Expire,
        Event::Track,
    ];
    for call in CALLS {
        for answer in answers() {
            events.push(answered(call, answer));
        }
    }
    events
}

/// Every live state a saga can be in: each step with each status it fits,
/// with and without a parcel, fresh and on its last attempt, every reason.
fn states() -> Vec<Facts> {
    let mut states = Vec::new();
    let reasons = Reason::all().map(Some).chain(std::iter::once(None));
    let reasons: Vec<Option<Reason>> = reasons.collect();
    for step in STEPS {
        for status in STATUSES.into_iter().filter(|s| step.fits(*s)) {
            for has_tracking in [false, true] {
                for attempts in [0, MAX - 1, MAX + 10] {
                    for pay_on_place in [false, true] {
                        for reason in &reasons {
                            states.push(Facts {
                                has_tracking,
                                attempts,
                                pay_on_place,
                                reason: *reason,
                                ..at(step, status)
                            });
                        }
                    }
                }
            }
        }
    }
    states
}

/// Checks one decision: every transition legal in sequence, requests
/// answered exactly once, nothing taken after the order is done.
fn check(o: &Facts, event: &Event, commands: &[Command]) {
    let ctx = || format!("{o:?} on {event:?} -> {commands:?}");
    let mut status = o.status;
    let mut done = o.step == Step::Done;
    for c in commands {
        match c {
            Command::Record(m) => {
                assert!(!done, "recorded after done: {}", ctx());
                assert!(
                    status.may_become(m.status),
                    "illegal {status} -> {}: {}",
                    m.status,
                    ctx()
                );
                assert!(
                    m.step.fits(m.status),
                    "step {} does not fit {}: {}",
                    m.step,
                    m.status,
                    ctx()
                );
                if m.answer.is_some() {
                    assert_eq!(status, S::Pending, "answered twice: {}", ctx());
                }
                status = m.status;
                done = m.step == Step::Done;
            }
            Command::Advance
            | Command::RetryLater(_)
            | Command::WaitForCarrier
            | Command::WaitForPayment
            | Command::Call(_) => assert!(!done, "work after done: {}", ctx()),
            Command::Note(_) | Command::Refuse(_) | Command::Hold => {}
        }
    }
    let replies = commands
        .iter()
        .filter(|c| matches!(c, Command::Hold | Command::Refuse(_)))
        .count();
    let asks_carrier_first = commands == [Command::Call(Call::StopShipment)];
    match event {
        Event::Pay | Event::Cancel if !asks_carrier_first => {
            assert_eq!(replies, 1, "a request is answered or held once: {}", ctx())
        }
        Event::Answered(Call::StopShipment, _) => {
            assert_eq!(replies, 1, "the cancel waiting on the carrier: {}", ctx())
        }
        _ => assert_eq!(replies, 0, "no request to answer: {}", ctx()),
    }
}

#[test]
fn every_state_and_event_decides_legally() {
    let mut pairs = 0;
    for o in states() {
        for event in events() {
            for now in [before_due(), after_due()] {
                let commands = decide(&o, event.clone(), now);
                check(&o, &event, &commands);
                pairs += 1;
            }
        }
    }
    assert!(pairs > 10_000, "{pairs} pairs");
}

#[test]
fn answers_of_another_steps_call_change_nothing() {
    for o in states() {
        for call in CALLS {
            let own = call_of(o.step) == Some(call)
                || call == Call::StopShipment
                || (matches!(call, Call::Undo { .. }) && o.step == Step::Compensate);
            if own {
                continue;
            }
            for answer in answers() {
                assert_eq!(
                    decide(&o, answered(call, answer), before_due()),
                    vec![],
                    "{o:?} {call:?}"
                );
            }
        }
    }
}

#[test]
fn a_done_saga_does_nothing() {
    for status in [S::Delivered, S::Cancelled, S::Rejected] {
        let o = at(Step::Done, status);
        assert_eq!(decide(&o, Event::Advance, after_due()), vec![]);
        assert_eq!(decide(&o, Event::Expire, after_due()), vec![]);
        assert_eq!(decide(&o, Event::Track, after_due()), vec![]);
    }
}

// ------------------------------------------------------------- the rules --

#[test]
fn each_step_makes_its_call() {
    let rows = [
        (Step::Reserve, S::Pending, Command::Call(Call::Reserve)),
        (
            Step::AwaitPayment,
            S::AwaitingPayment,
            Command::WaitForPayment,
        ),
        (
            Step::Authorize,
            S::AwaitingPayment,
            Command::Call(Call::Authorize),
        ),
        (
            Step::Capture,
            S::AwaitingPayment,
            Command::Call(Call::Capture),
        ),
        (Step::CommitStock, S::Paid, Command::Call(Call::CommitStock)),
        (
            Step::CreateShipment,
            S::Paid,
            Command::Call(Call::CreateShipment),
        ),
        (Step::Track, S::Shipping, Command::WaitForCarrier),
    ];
    for (step, status, expected) in rows {
        assert_eq!(
            decide(&at(step, status), Event::Advance, before_due()),
            vec![expected]
        );
    }
}

#[test]
fn the_happy_path_records_each_step() {
    let rows = [
        (
            Step::Authorize,
            S::AwaitingPayment,
            Call::Authorize,
            Answer::Ok,
            record(S::AwaitingPayment, Step::Capture, "payment_authorized"),
        ),
        (
            Step::Capture,
            S::AwaitingPayment,
            Call::Capture,
            Answer::Ok,
            record(S::Paid, Step::CommitStock, "payment_captured"),
        ),
        (
            Step::CommitStock,
            S::Paid,
            Call::CommitStock,
            Answer::Ok,
            record(S::Paid, Step::CreateShipment, "stock_committed"),
        ),
    ];
    for (step, status, call, answer, expected) in rows {
        let o = at(step, status);
        assert_eq!(
            decide(&o, answered(call, answer), before_due()),
            vec![expected, Command::Advance]
        );
    }
    let o = at(Step::CreateShipment, S::Paid);
    let mut booked = Move::to(S::Shipping, Step::Track, "shipment_created");
    booked.tracking = Some("T-1".into());
    assert_eq!(
        decide(
            &o,
            answered(Call::CreateShipment, Answer::Booked("T-1".into())),
            before_due()
        ),
        vec![Command::Record(booked), Command::Advance]
    );
}

#[test]
fn a_parcel_is_followed_to_the_door() {
    let shipping = Facts {
        has_tracking: true,
        ..at(Step::Track, S::Shipping)
    };
    let shipped = Facts {
        status: S::Shipped,
        ..shipping.clone()
    };
    let ask = |o: &Facts, p| {
        decide(
            o,
            answered(Call::AskCarrier, Answer::Parcel(p)),
            before_due(),
        )
    };
    assert_eq!(
        ask(&shipping, Parcel::Preparing),
        vec![Command::WaitForCarrier]
    );
    assert_eq!(
        ask(&shipping, Parcel::Shipped),
        vec![
            record(S::Shipped, Step::Track, "shipped"),
            Command::WaitForCarrier
        ]
    );
    assert_eq!(
        ask(&shipped, Parcel::Shipped),
        vec![Command::WaitForCarrier]
    );
    assert_eq!(
        ask(&shipping, Parcel::Delivered),
        vec![
            record(S::Shipped, Step::Track, "shipped"),
            record(S::Delivered, Step::Done, "delivered")
        ]
    );
    assert_eq!(
        ask(&shipped, Parcel::Delivered),
        vec![record(S::Delivered, Step::Done, "delivered")]
    );
    // A lost parcel or a silent carrier is noted and asked again, never cancelled.
    for answer in [
        Answer::Parcel(Parcel::Cancelled),
        Answer::Declined(why()),
        Answer::Failed(why()),
        Answer::Unreachable(why()),
    ] {
        let commands = decide(&shipped, answered(Call::AskCarrier, answer), before_due());
        assert!(
            matches!(
                commands.as_slice(),
                [Command::Note(_), Command::WaitForCarrier]
            ),
            "{commands:?}"
        );
    }
    assert_eq!(
        decide(&shipped, Event::Track, before_due()),
        vec![Command::Call(Call::AskCarrier)]
    );
}

#[test]
fn a_declined_or_late_authorisation_cancels_at_once() {
    let o = at(Step::Authorize, S::AwaitingPayment);
    let decline = decide(
        &o,
        answered(Call::Authorize, Answer::Declined(why())),
        before_due(),
    );
    assert_eq!(
        decline,
        compensation(
            &o,
            Reason::Cancelled(CancelReason::PaymentDeclined),
            "payment_declined",
            Some("boom")
        )
    );
    let late = decide(
        &o,
        answered(Call::Authorize, Answer::Failed(why())),
        before_due(),
    );
    assert_eq!(
        late,
        compensation(
            &o,
            Reason::Cancelled(CancelReason::PaymentTimedOut),
            "payment_timed_out",
            Some("boom")
        )
    );
}

#[test]
fn failures_that_may_pass_are_retried_then_compensated() {
    let rows = [
        (
            Step::Capture,
            S::AwaitingPayment,
            Call::Capture,
            CancelReason::PaymentTimedOut,
        ),
        (
            Step::CommitStock,
            S::Paid,
            Call::CommitStock,
            CancelReason::StockLost,
        ),
        (
            Step::CreateShipment,
            S::Paid,
            Call::CreateShipment,
            CancelReason::ShipmentFailed,
        ),
    ];
    for (step, status, call, reason) in rows {
        let fresh = at(step, status);
        assert_eq!(
            decide(&fresh, answered(call, Answer::Failed(why())), before_due()),
            vec![Command::RetryLater(why())]
        );
        let last = Facts {
            attempts: MAX - 1,
            ..fresh
        };
        assert_eq!(
            decide(&last, answered(call, Answer::Failed(why())), before_due()),
            compensation(
                &last,
                Reason::Cancelled(reason),
                reason.event(),
                Some("boom")
            ),
            "{step}"
        );
    }
}

#[test]
fn an_unreachable_store_or_provider_is_waited_out_however_long() {
    let rows = [
        (Step::Authorize, S::AwaitingPayment, Call::Authorize),
        (Step::Capture, S::AwaitingPayment, Call::Capture),
        (Step::CommitStock, S::Paid, Call::CommitStock),
        (Step::CreateShipment, S::Paid, Call::CreateShipment),
    ];
    for (step, status, call) in rows {
        let o = Facts {
            attempts: 1_000,
            ..at(step, status)
        };
        assert_eq!(
            decide(&o, answered(call, Answer::Unreachable(why())), after_due()),
            vec![Command::RetryLater(why())],
            "{step}"
        );
    }
    let undoing = Facts {
        attempts: 1_000,
        ..at(Step::Compensate, S::Paid)
    };
    for answer in [
        Answer::Unreachable(why()),
        Answer::Failed(why()),
        Answer::Declined(why()),
    ] {
        let call = Call::Undo {
            refund: true,
            cancel_shipment: false,
        };
        assert_eq!(
            decide(&undoing, answered(call, answer), after_due()),
            vec![Command::RetryLater(why())]
        );
    }
}

#[test]
fn stock_lost_after_payment_cancels_and_refunds() {
    let o = at(Step::CommitStock, S::Paid);
    let lost = decide(
        &o,
        answered(Call::CommitStock, Answer::Lost(why())),
        before_due(),
    );
    assert_eq!(
        lost,
        compensation(
            &o,
            Reason::Cancelled(CancelReason::StockLost),
            "stock_lost",
            Some("boom")
        )
    );
    let undoing = Facts {
        reason: Some(Reason::Cancelled(CancelReason::StockLost)),
        ..at(Step::Compensate, S::Paid)
    };
    assert_eq!(
        decide(&undoing, Event::Advance, before_due()),
        vec![Command::Call(Call::Undo {
            refund: true,
            cancel_shipment: false
        })]
    );
}

#[test]
fn a_shipment_the_carrier_refuses_cancels_the_order() {
    let o = at(Step::CreateShipment, S::Paid);
    assert_eq!(
        decide(
            &o,
            answered(Call::CreateShipment, Answer::Declined(why())),
            before_due()
        ),
        compensation(
            &o,
            Reason::Cancelled(CancelReason::ShipmentFailed),
            "shipment_failed",
            Some("boom")
        )
    );
}

#[test]
fn an_unpaid_order_expires_at_its_deadline() {
    let o = at(Step::AwaitPayment, S::AwaitingPayment);
    assert_eq!(
        decide(&o, Event::Expire, before_due()),
        vec![Command::WaitForPayment]
    );
    assert_eq!(
        decide(&o, Event::Expire, after_due()),
        compensation(
            &o,
            Reason::Cancelled(CancelReason::PaymentExpired),
            "payment_expired",
            None
        )
    );
    // Paying has begun: the deadline no longer applies.
    assert_eq!(
        decide(
            &at(Step::Capture, S::AwaitingPayment),
            Event::Expire,
            after_due()
        ),
        vec![]
    );
}

#[test]
fn paying_starts_authorisation_once() {
    let waiting = at(Step::AwaitPayment, S::AwaitingPayment);
    assert_eq!(
        decide(&waiting, Event::Pay, before_due()),
        vec![
            record(S::AwaitingPayment, Step::Authorize, "payment_requested"),
            Command::Hold,
            Command::Advance
        ]
    );
    let mut late = vec![Command::Refuse(Refusal::Conflict(
        "the payment window has closed".into(),
    ))];
    late.extend(compensation(
        &waiting,
        Reason::Cancelled(CancelReason::PaymentExpired),
        "payment_expired",
        None,
    ));
    assert_eq!(decide(&waiting, Event::Pay, after_due()), late);
    for step in [Step::Authorize, Step::Capture] {
        assert_eq!(
            decide(&at(step, S::AwaitingPayment), Event::Pay, before_due()),
            vec![Command::Hold]
        );
    }
    assert_eq!(
        decide(&at(Step::CommitStock, S::Paid), Event::Pay, before_due()),
        vec![Command::Refuse(Refusal::Conflict(
            "a PAID order cannot be paid".into()
        ))]
    );
}

#[test]
fn buyers_cancel_until_the_parcel_leaves() {
    let waiting = at(Step::AwaitPayment, S::AwaitingPayment);
    let mut expected = vec![Command::Hold];
    expected.extend(compensation(
        &waiting,
        Reason::Cancelled(CancelReason::BuyerCancelled),
        "cancel_requested",
        None,
    ));
    assert_eq!(decide(&waiting, Event::Cancel, before_due()), expected);

    let booked = Facts {
        has_tracking: true,
        ..at(Step::Track, S::Shipping)
    };
    assert_eq!(
        decide(&booked, Event::Cancel, before_due()),
        vec![Command::Call(Call::StopShipment)]
    );
    let stopped = decide(
        &booked,
        answered(Call::StopShipment, Answer::Ok),
        before_due(),
    );
    assert_eq!(stopped[0], Command::Hold);
    assert_eq!(
        stopped[1..],
        compensation(
            &booked,
            Reason::Cancelled(CancelReason::BuyerCancelled),
            "cancel_requested",
            None
        )[..]
    );
    assert_eq!(
        decide(
            &booked,
            answered(Call::StopShipment, Answer::Declined("left".into())),
            before_due()
        ),
        vec![Command::Refuse(Refusal::Conflict("left".into()))]
    );
    assert_eq!(
        decide(
            &booked,
            answered(Call::StopShipment, Answer::Failed(why())),
            before_due()
        ),
        vec![Command::Refuse(Refusal::Unavailable)]
    );

    let gone = Facts {
        status: S::Shipped,
        ..booked
    };
    assert_eq!(
        decide(&gone, Event::Cancel, before_due()),
        vec![Command::Refuse(Refusal::Conflict(
            "a SHIPPED order cannot be cancelled".into()
        ))]
    );
    // Already undoing: the cancel waits for the end.
    assert_eq!(
        decide(&at(Step::Compensate, S::Paid), Event::Cancel, before_due()),
        vec![Command::Hold]
    );
}

#[test]
fn compensation_gives_back_what_was_taken() {
    let pending = at(Step::Compensate, S::Pending);
    assert_eq!(
        decide(&pending, Event::Advance, before_due()),
        vec![Command::Call(Call::Undo {
            refund: false,
            cancel_shipment: false
        })]
    );
    let shipping = Facts {
        has_tracking: true,
        ..at(Step::Compensate, S::Shipping)
    };
    assert_eq!(
        decide(&shipping, Event::Advance, before_due()),
        vec![Command::Call(Call::Undo {
            refund: true,
            cancel_shipment: true
        })]
    );
    let undone = |o: &Facts| {
        decide(
            o,
            answered(
                Call::Undo {
                    refund: true,
                    cancel_shipment: true,
                },
                Answer::Ok,
            ),
            before_due(),
        )
    };
    let closing = undone(&shipping);
    let [Command::Record(closed)] = closing.as_slice() else {
        panic!("one record: {closing:?}")
    };
    assert_eq!(
        (closed.status, closed.step, closed.kind, closed.answer),
        (S::Cancelled, Step::Done, "cancelled", None)
    );
}

#[test]
fn an_order_never_answered_gets_its_first_answer_when_undone() {
    let refused = Facts {
        reason: Some(Reason::Rejected(RejectReason::NotOnSale)),
        ..at(Step::Compensate, S::Pending)
    };
    let undo = answered(
        Call::Undo {
            refund: false,
            cancel_shipment: false,
        },
        Answer::Ok,
    );
    let commands = decide(&refused, undo.clone(), before_due());
    let [Command::Record(closed)] = commands.as_slice() else {
        panic!("{commands:?}")
    };
    assert_eq!(closed.status, S::Rejected);
    assert_eq!(
        closed.answer,
        Some(FirstAnswer::Refused(RejectReason::NotOnSale))
    );
    let failed = Facts {
        reason: Some(Reason::Unavailable),
        ..refused
    };
    let commands = decide(&failed, undo, before_due());
    let [Command::Record(closed)] = commands.as_slice() else {
        panic!("{commands:?}")
    };
    // A 503 is never stored as an answer: the key is judged again.
    assert_eq!((closed.status, closed.answer), (S::Cancelled, None));
}

#[test]
fn a_pending_order_reserves_then_waits_or_pays() {
    for (pay_on_place, step) in [(false, Step::AwaitPayment), (true, Step::Authorize)] {
        let o = Facts {
            pay_on_place,
            ..at(Step::Reserve, S::Pending)
        };
        let mut reserved = Move::to(S::AwaitingPayment, step, "reserved");
        reserved.answer = Some(FirstAnswer::Accepted);
        assert_eq!(
            decide(&o, answered(Call::Reserve, Answer::Ok), before_due()),
            vec![Command::Record(reserved), Command::Advance]
        );
    }
    let o = at(Step::Reserve, S::Pending);
    assert_eq!(
        decide(
            &o,
            answered(
                Call::Reserve,
                Answer::Refused(RejectReason::OutOfStock, "SKU 1".into())
            ),
            before_due()
        ),
        compensation(
            &o,
            Reason::Rejected(RejectReason::OutOfStock),
            "reservation_refused",
            Some("SKU 1")
        )
    );
    assert_eq!(
        decide(
            &o,
            answered(Call::Reserve, Answer::Unreachable(why())),
            before_due()
        ),
        vec![Command::RetryLater(why())]
    );
    assert_eq!(
        decide(
            &o,
            answered(Call::Reserve, Answer::Unreachable(why())),
            after_due()
        ),
        compensation(&o, Reason::Unavailable, "reservation_failed", Some("boom"))
    );
}
