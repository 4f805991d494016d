//! What an attempt's result means for a delivery: delivered, try again, give up, or the
//! destination is gone. The judging itself is the one every outbound call shares
//! ([`junction_resilience::outcome`]); this adds what a delivery records.

use std::time::Duration;

use junction_resilience::{Answer, Class, Classes};

/// What came back from one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The destination answered.
    Answered {
        status: u16,
        retry_after: Option<Duration>,
        location: Option<String>,
    },
    /// No answer within the timeout.
    Timeout,
    /// The connection failed or broke (refused, reset, TLS).
    Transport(String),
    /// A connector held the call without sending it (its quota spent past `max_wait`, its
    /// circuit open): try again later; the destination did not fail.
    Held {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Not sendable as it is (the body breaks the operation's request model, a parameter is
    /// missing): no retry can help; fix and replay.
    Refused(String),
    /// Sent, but whether the vendor acted is unknown (no answer to a call that is not safe to
    /// repeat): an operator decides.
    Unknown(String),
}

/// As recorded with an attempt and shown to operators: what happened, in words.
impl std::fmt::Display for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sent::Answered { status, .. } => write!(f, "HTTP {status}"),
            Sent::Timeout => f.write_str("no answer within the destination's timeout"),
            Sent::Transport(why) => write!(f, "the connection failed: {why}"),
            Sent::Held { reason, .. } => write!(f, "held by the connector: {reason}"),
            Sent::Refused(why) => write!(f, "not sent: {why}"),
            Sent::Unknown(why) => write!(
                f,
                "outcome unknown: {why}; the call is not safe to repeat, so it was not retried: check the vendor, then replay or discard"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Transient: try again (not before `retry_after`, if given).
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Permanent: dead-letter now.
    Permanent(String),
    /// 410 Gone: the destination is disabled until an operator enables it again.
    Gone,
}

/// A delivery's verdict, and whether the attempt counts against the destination's circuit.
pub fn classify(sent: &Sent, classes: &Classes) -> (Verdict, bool) {
    let answer = match sent {
        Sent::Timeout => Answer::Timeout,
        Sent::Transport(_) => Answer::Transport,
        Sent::Answered { status, .. } => Answer::Status(*status),
        Sent::Held {
            reason,
            retry_after,
        } => {
            let retry = Verdict::Retry {
                reason: format!("held by the connector: {reason}"),
                retry_after: *retry_after,
            };
            return (retry, false);
        }
        Sent::Refused(_) => return (Verdict::Permanent(sent.to_string()), false),
        Sent::Unknown(_) => return (Verdict::Permanent(sent.to_string()), true),
    };
    let judged = classes.judge(answer);
    let verdict = match (judged.class, sent) {
        (Class::Success, _) => Verdict::Delivered,
        (Class::Gone, _) => Verdict::Gone,
        (Class::Retry, Sent::Timeout) => Verdict::Retry {
            reason: "timed out".into(),
            retry_after: None,
        },
        (Class::Retry, Sent::Transport(e)) => Verdict::Retry {
            reason: format!("connection failed: {e}"),
            retry_after: None,
        },
        (Class::Retry, Sent::Answered { status, retry_after, .. }) => Verdict::Retry {
            reason: format!("HTTP {status}"),
            retry_after: *retry_after,
        },
        (Class::Redirect, Sent::Answered { status, location, .. }) => Verdict::Permanent(format!(
            "HTTP {status}: redirects are not followed (Location: {}); fix the destination's url and replay",
            location.as_deref().unwrap_or("none")
        )),
        (_, Sent::Answered { status, .. }) => {
            Verdict::Permanent(format!("HTTP {status}: the destination refused the event"))
        }
        (_, other) => Verdict::Permanent(other.to_string()),
    };
    (verdict, judged.trips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempts_failure_reads_as_words_not_debug_output() {
        assert_eq!(
            Sent::Timeout.to_string(),
            "no answer within the destination's timeout"
        );
        let t = Sent::Transport("connection refused".into()).to_string();
        assert_eq!(t, "the connection failed: connection refused");
        assert!(!t.contains("Transport(\""));
    }

    fn answered(status: u16) -> Sent {
        Sent::Answered {
            status,
            retry_after: None,
            location: None,
        }
    }

    fn destination() -> Classes {
        Classes {
            also_retry: vec![],
            throttling_trips: true,
        }
    }

    fn verdict(sent: &Sent, also: &[u16]) -> Verdict {
        let classes = Classes {
            also_retry: also.to_vec(),
            ..destination()
        };
        classify(sent, &classes).0
    }

    #[test]
    fn statuses_are_classified_as_documented() {
        assert_eq!(verdict(&answered(204), &[]), Verdict::Delivered);
        for s in [408, 425, 429, 500, 502, 503, 504] {
            assert!(
                matches!(verdict(&answered(s), &[]), Verdict::Retry { .. }),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 409, 422, 501] {
            assert!(
                matches!(verdict(&answered(s), &[]), Verdict::Permanent(_)),
                "{s}"
            );
        }
        assert!(matches!(
            verdict(&answered(409), &[409]),
            Verdict::Retry { .. }
        ));
        assert!(
            matches!(verdict(&answered(301), &[]), Verdict::Permanent(m) if m.contains("redirect"))
        );
        assert_eq!(verdict(&answered(410), &[]), Verdict::Gone);
        assert!(matches!(
            verdict(&Sent::Timeout, &[]),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            verdict(&Sent::Transport("reset".into()), &[]),
            Verdict::Retry { .. }
        ));
    }

    #[test]
    fn retry_after_is_carried_and_only_transient_failures_count_against_the_circuit() {
        let s = Sent::Answered {
            status: 429,
            retry_after: Some(Duration::from_secs(30)),
            location: None,
        };
        assert_eq!(
            classify(&s, &destination()),
            (
                Verdict::Retry {
                    reason: "HTTP 429".into(),
                    retry_after: Some(Duration::from_secs(30))
                },
                true
            )
        );
        assert!(!classify(&answered(400), &destination()).1);
    }

    #[test]
    fn a_connectors_hold_refusal_and_unknown_outcome_are_judged_without_an_answer() {
        let held = Sent::Held {
            reason: "quota spent".into(),
            retry_after: Some(Duration::from_secs(2)),
        };
        let (v, trips) = classify(&held, &destination());
        assert!(
            matches!(v, Verdict::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(2))
        );
        assert!(!trips, "the destination did not fail");
        let (v, trips) = classify(&Sent::Refused("missing `id`".into()), &destination());
        assert!(matches!(v, Verdict::Permanent(m) if m.contains("missing `id`")));
        assert!(!trips);
        let (v, _) = classify(&Sent::Unknown("timed out".into()), &destination());
        assert!(matches!(v, Verdict::Permanent(m) if m.contains("outcome unknown")));
    }
}
