//! What one attempt's outcome means, for every kind of target: is it a success, worth another
//! try, a permanent refusal, a redirect (never followed), or a target that is gone — and does it
//! count against the target's circuit?
//!
//! One default for all: 2xx succeeded; 408, 425, 429 and 5xx are transient (except 501 Not
//! Implemented and 505 HTTP Version Not Supported, which describe the request, not a passing
//! state of the server); timeouts and broken connections are transient; 410 is gone; 3xx a
//! redirect; any other status permanent. A target adds statuses to retry
//! ([`Classes::also_retry`]); what trips a circuit depends on the target
//! ([`Classes::throttling_trips`]).

/// What came back from one attempt, as far as judging it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// No answer within the attempt's time.
    Timeout,
    /// The connection failed or broke (refused, reset, TLS).
    Transport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Success,
    /// Transient: try again (if the call is safe to repeat and attempts are left).
    Retry,
    /// Permanent: trying again cannot help.
    Permanent,
    /// 3xx: redirects are not followed.
    Redirect,
    /// 410 Gone: the target says it is gone for good.
    Gone,
}

/// A judged outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judgement {
    pub class: Class,
    /// Whether it counts as a failure for the target's circuit.
    pub trips: bool,
}

/// A target's rules for judging answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Classes {
    /// Statuses retried besides the default set (a 409 from a receiver that is catching up).
    pub also_retry: Vec<u16>,
    /// Whether a retryable answer from a *working* server (408, 425, 429, `also_retry`) counts
    /// against the circuit. True for destinations, whose circuit is their only brake; false for
    /// connectors, whose quota pauses on 429 and `Retry-After` instead.
    pub throttling_trips: bool,
}

/// The server failed (as opposed to refusing this request): retryable, and a circuit failure.
pub fn server_failed(status: u16) -> bool {
    matches!(status, 500..=599) && !matches!(status, 501 | 505)
}

impl Classes {
    pub fn judge(&self, answer: Answer) -> Judgement {
        let status = match answer {
            Answer::Timeout | Answer::Transport => {
                return Judgement {
                    class: Class::Retry,
                    trips: true,
                }
            }
            Answer::Status(s) => s,
        };
        let (class, trips) = match status {
            200..=299 => (Class::Success, false),
            410 => (Class::Gone, false),
            s if server_failed(s) => (Class::Retry, true),
            s if matches!(s, 408 | 425 | 429) || self.also_retry.contains(&s) => {
                (Class::Retry, self.throttling_trips)
            }
            300..=399 => (Class::Redirect, false),
            _ => (Class::Permanent, false),
        };
        Judgement { class, trips }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(c: &Classes, s: u16) -> Class {
        c.judge(Answer::Status(s)).class
    }

    #[test]
    fn statuses_are_classified_as_documented() {
        let c = Classes::default();
        assert_eq!(class(&c, 204), Class::Success);
        for s in [408, 425, 429, 500, 502, 503, 504, 507, 520, 599] {
            assert_eq!(class(&c, s), Class::Retry, "{s}");
        }
        for s in [400, 401, 403, 404, 409, 422, 501, 505] {
            assert_eq!(class(&c, s), Class::Permanent, "{s}");
        }
        assert_eq!(class(&c, 301), Class::Redirect);
        assert_eq!(class(&c, 410), Class::Gone);
        assert_eq!(c.judge(Answer::Timeout).class, Class::Retry);
        assert_eq!(c.judge(Answer::Transport).class, Class::Retry);
        let more = Classes {
            also_retry: vec![409],
            ..Classes::default()
        };
        assert_eq!(class(&more, 409), Class::Retry);
    }

    #[test]
    fn server_failures_trip_every_circuit_and_throttling_only_where_asked() {
        let connector = Classes::default();
        let destination = Classes {
            throttling_trips: true,
            also_retry: vec![409],
        };
        for c in [&connector, &destination] {
            assert!(c.judge(Answer::Status(503)).trips);
            assert!(c.judge(Answer::Timeout).trips);
            assert!(c.judge(Answer::Transport).trips);
            assert!(!c.judge(Answer::Status(200)).trips);
            assert!(!c.judge(Answer::Status(400)).trips);
            assert!(!c.judge(Answer::Status(410)).trips);
        }
        assert!(!connector.judge(Answer::Status(429)).trips);
        assert!(destination.judge(Answer::Status(429)).trips);
        assert!(destination.judge(Answer::Status(409)).trips);
    }
}
