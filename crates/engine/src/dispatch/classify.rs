//! What an attempt's result means: delivered, try again, give up, or the destination is gone.

use std::time::Duration;

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
}

/// As recorded with an attempt and shown to operators: what happened, in words.
impl std::fmt::Display for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sent::Answered { status, .. } => write!(f, "HTTP {status}"),
            Sent::Timeout => f.write_str("no answer within the destination's timeout"),
            Sent::Transport(why) => write!(f, "the connection failed: {why}"),
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

impl Verdict {
    /// Whether this shows the destination is up (for the circuit).
    pub fn destination_up(&self) -> bool {
        matches!(
            self,
            Verdict::Delivered | Verdict::Permanent(_) | Verdict::Gone
        )
    }
}

/// 2xx delivered; 408, 425, 429, 5xx, timeouts and transport errors transient (plus any 4xx in
/// `retry_statuses`); 410 gone; 3xx a permanent failure (redirects are not followed); other 4xx
/// permanent.
pub fn classify(sent: &Sent, retry_statuses: &[u16]) -> Verdict {
    match sent {
        Sent::Timeout => Verdict::Retry {
            reason: "timed out".into(),
            retry_after: None,
        },
        Sent::Transport(e) => Verdict::Retry {
            reason: format!("connection failed: {e}"),
            retry_after: None,
        },
        Sent::Answered {
            status,
            retry_after,
            location,
        } => match *status {
            200..=299 => Verdict::Delivered,
            410 => Verdict::Gone,
            s if matches!(s, 408 | 425 | 429 | 500..=599) || retry_statuses.contains(&s) => {
                Verdict::Retry {
                    reason: format!("HTTP {s}"),
                    retry_after: *retry_after,
                }
            }
            s @ 300..=399 => Verdict::Permanent(format!(
                "HTTP {s}: redirects are not followed (Location: {}); fix the destination's url and replay",
                location.as_deref().unwrap_or("none")
            )),
            s => Verdict::Permanent(format!("HTTP {s}: the destination refused the event")),
        },
    }
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

    #[test]
    fn statuses_are_classified_as_documented() {
        assert_eq!(classify(&answered(204), &[]), Verdict::Delivered);
        for s in [408, 425, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(&answered(s), &[]), Verdict::Retry { .. }),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 409, 422] {
            assert!(
                matches!(classify(&answered(s), &[]), Verdict::Permanent(_)),
                "{s}"
            );
        }
        assert!(matches!(
            classify(&answered(409), &[409]),
            Verdict::Retry { .. }
        ));
        assert!(
            matches!(classify(&answered(301), &[]), Verdict::Permanent(m) if m.contains("redirect"))
        );
        assert_eq!(classify(&answered(410), &[]), Verdict::Gone);
        assert!(matches!(
            classify(&Sent::Timeout, &[]),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            classify(&Sent::Transport("reset".into()), &[]),
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
            classify(&s, &[]),
            Verdict::Retry {
                reason: "HTTP 429".into(),
                retry_after: Some(Duration::from_secs(30))
            }
        );
        assert!(!classify(&s, &[]).destination_up());
        assert!(classify(&answered(400), &[]).destination_up());
    }
}
