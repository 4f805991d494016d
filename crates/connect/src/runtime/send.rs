//! One call's attempts, as named stages: **authorize** (a concurrency slot and the quota, the
//! circuit, the credentials) → **exchange** (the request, within the deadline) → **learn** (the
//! vendor's rate-limit headers, the circuit's verdict, auth health) → **judge** (done, retry after
//! a delay, or refresh the token and retry once). Each stage returns a typed outcome; the loop in
//! [`Runtime::send`] only sequences them.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method};
use junction_core::{Code, Error, Origin};
use junction_resilience::quota::parse_signal;
use junction_resilience::QuotaState;
use junction_resilience::{Answer, Class};
use tokio::time::Instant;

use super::{Deferred, Runtime};
use crate::auth::Outgoing;

/// What the judge decided about one attempt's answer.
enum Next {
    /// Hand this answer to the caller.
    Done(junction_outbound::Response),
    /// Try again after this long (the retry budget already paid).
    RetryAfter(Duration),
    /// The vendor refused the token: refresh it and try once more, not counted as an attempt.
    Reauth,
}

/// An attempt cleared to go: its slot, its circuit permit, the request with credentials, and
/// the token it used (to refresh if the vendor refuses it).
struct Authorized<'a> {
    slot: tokio::sync::SemaphorePermit<'a>,
    place: super::Reserved<'a>,
    permit: junction_resilience::Permit,
    out: Outgoing,
    used: Option<Arc<str>>,
}

/// What came back from the upstream, and how long it took.
struct Exchanged {
    result: Result<junction_outbound::Response, junction_outbound::Failure>,
    elapsed: Duration,
    /// Other calls of this connector in flight when this one ended.
    others: u64,
    /// The connection's own quota, which the vendor's answer speaks of when it has one.
    connection_quota: Option<Arc<junction_resilience::LocalQuota>>,
    /// Points the attempt reserved.
    cost: u32,
}

/// Where one call stands across its attempts.
struct Progress {
    idempotent: bool,
    attempt: u32,
    /// Requests actually sent (a 401's refresh-and-retry is one more than the attempts).
    sent: u32,
    rejected: Option<Arc<str>>,
    reauthorised: bool,
}

impl Runtime {
    /// Sends with credentials, retrying what is safe; returns the final response and how many
    /// requests went upstream.
    pub(super) async fn send(
        &self,
        mut base: Outgoing,
        connection: &str,
        terms: super::Terms,
        started: Instant,
        deadline: Instant,
    ) -> Result<(junction_outbound::Response, u32), Error> {
        let cost = self.price(terms.cost);
        let mut p = Progress {
            idempotent: self.make_idempotent(&mut base) || terms.safe,
            attempt: 0,
            sent: 0,
            rejected: None,
            reauthorised: false,
        };
        self.budget.deposit(Instant::now());
        let wait_until = deadline.min(started + self.cfg.max_wait);
        loop {
            p.attempt += 1;
            let a = self
                .authorize(&base, connection, cost, p.rejected.take(), wait_until)
                .await?;
            if Instant::now() >= deadline {
                return Err(self.deadline_error());
            }
            p.sent += 1;
            let used = a.used.clone();
            let permit = a.permit;
            let x = self.exchange(a.slot, a.place, a.out, deadline).await;
            let now = Instant::now();
            let res = match x.result {
                Ok(res) => res,
                Err(failure) => {
                    if super::counted() {
                        permit.record(now, false, x.elapsed);
                    }
                    match self.judge_failure(&failure, &p, now, deadline) {
                        Some(delay) => {
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                        None => return Err(self.failure_error(failure)),
                    }
                }
            };
            let quota = x.connection_quota.as_deref();
            let (res, class, retry_after) =
                self.learn(res, permit, now, x.elapsed, x.others, quota);
            if self.cfg.cost.reads_answers() {
                self.cost_from_headers(connection, x.cost, res.headers());
            }
            match self.judge(res, class, retry_after, &p, now, deadline) {
                Next::Done(res) => return Ok((res, p.sent)),
                Next::RetryAfter(delay) => tokio::time::sleep(delay).await,
                Next::Reauth => {
                    p.reauthorised = true;
                    p.rejected = used;
                    p.attempt -= 1;
                }
            }
        }
    }

    /// Whether the call may be retried: a safe method, or a key that makes it safe — the
    /// caller's, or one added for the connector's idempotency header on POST and PATCH.
    fn make_idempotent(&self, base: &mut Outgoing) -> bool {
        let safe_method = matches!(
            base.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        let mut idempotent = safe_method || base.headers.contains_key("idempotency-key");
        if let Some(name) = &self.cfg.idempotency_header {
            if base.headers.contains_key(name) {
                idempotent = true;
            } else if matches!(base.method, Method::POST | Method::PATCH) {
                if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
                    base.headers.insert(name.clone(), v);
                    idempotent = true;
                }
            }
        }
        idempotent
    }

    /// A slot and the quota (in arrival order, until `wait_until`), the circuit's permission,
    /// and the credentials (refreshed first when the last token was `rejected`).
    async fn authorize(
        &self,
        base: &Outgoing,
        connection: &str,
        cost: u32,
        rejected: Option<Arc<str>>,
        wait_until: Instant,
    ) -> Result<Authorized<'_>, Error> {
        let (slot, place) = self
            .admit(connection, cost, wait_until.max(Instant::now()))
            .await?;
        let permit = match self.circuit.allow(Instant::now()) {
            Ok(p) => p,
            Err(retry_in) => return Err(self.circuit_open(retry_in)),
        };
        let mut out = Outgoing {
            method: base.method.clone(),
            url: base.url.clone(),
            headers: base.headers.clone(),
            body: base.body.clone(),
        };
        let used = match rejected {
            Some(r) => Some(self.auth.reapply(connection, &r, &mut out).await?),
            None => self.auth.apply(connection, &mut out).await?,
        };
        Ok(Authorized {
            slot,
            place,
            permit,
            out,
            used,
        })
    }

    /// The request, within the attempt timeout and what is left of the deadline; the slot is
    /// given back as soon as the answer's head is in, and the call counts in the quota's windows
    /// from then (the vendor counted it at some moment before it answered).
    async fn exchange(
        &self,
        slot: tokio::sync::SemaphorePermit<'_>,
        mut place: super::Reserved<'_>,
        out: Outgoing,
        deadline: Instant,
    ) -> Exchanged {
        let t0 = Instant::now();
        let waited = place.leaving(t0);
        let connection_quota = place.connection_quota();
        let cost = place.cost();
        self.metrics.send_delay_seconds.record(waited.as_secs_f64());
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.metrics.attempts.increment(1);
        let result = self
            .upstream
            .send(
                out.method,
                &out.url,
                out.headers,
                out.body,
                self.cfg
                    .timeouts
                    .attempt
                    .min(deadline.saturating_duration_since(t0)),
            )
            .await;
        place.settled(Instant::now());
        let others = self
            .in_flight
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        drop(slot);
        let elapsed = t0.elapsed();
        self.metrics.upstream_seconds.record(elapsed.as_secs_f64());
        Exchanged {
            result,
            elapsed,
            others,
            connection_quota,
            cost,
        }
    }

    /// Learns from an answer: the vendor's quota headers (with `Retry-After` capped), the
    /// circuit's verdict (a SOAP 500 is left to the caller, who reads the fault), auth health.
    /// Returns the answer, its class and the vendor's `Retry-After`, uncapped.
    fn learn(
        &self,
        mut res: junction_outbound::Response,
        permit: junction_resilience::Permit,
        now: Instant,
        elapsed: Duration,
        others: u64,
        connection_quota: Option<&junction_resilience::LocalQuota>,
    ) -> (junction_outbound::Response, Class, Option<Duration>) {
        let status = res.status().as_u16();
        let judged = self.cfg.retry.classes.judge(Answer::Status(status));
        let unix_now = (junction_core::time::now_ms() / 1000) as u64;
        let mut signal = {
            let headers = res.headers();
            let header = |n: &str| {
                headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let mut signal = parse_signal(status, &header, unix_now, Duration::MAX);
            if signal.remaining.is_none() {
                if let Some(vendor) = &self.cfg.rate_limit_headers {
                    signal.remaining = vendor.read(&header, unix_now);
                }
            }
            signal
        };
        let retry_after = signal.retry_after;
        signal.retry_after = retry_after.map(|d| d.min(self.cfg.retry.retry_after_cap));
        if let Some(r) = signal.remaining {
            self.metrics.quota_remaining.set(r.left as f64);
        }
        // With per-connection quotas the vendor counts per account: its answer teaches that
        // connection's quota.
        match connection_quota {
            Some(q) => q.observe(now, &signal, 0),
            None => self.quota.observe(now, &signal, others),
        }
        if !super::counted() {
            drop(permit);
        } else if status == 500 && self.cfg.soap.is_some() {
            let deferred = Deferred(Arc::new(std::sync::Mutex::new(Some((
                permit, now, elapsed,
            )))));
            res.extensions_mut().insert(deferred);
        } else {
            permit.record(now, !judged.trips, elapsed);
        }
        if self.cfg.auth.is_some() {
            self.metrics.auth(status != 401 && status != 403);
        }
        (res, judged.class, retry_after)
    }

    /// What an answer means: a refused token is refreshed once; a retryable status of a safe
    /// call is retried within the attempts, the deadline and the budget (a `Retry-After` over
    /// the cap hands the vendor's answer to the caller); anything else is the answer.
    fn judge(
        &self,
        res: junction_outbound::Response,
        class: Class,
        retry_after: Option<Duration>,
        p: &Progress,
        now: Instant,
        deadline: Instant,
    ) -> Next {
        if res.status() == http::StatusCode::UNAUTHORIZED
            && self.auth.uses_tokens()
            && !p.reauthorised
        {
            return Next::Reauth;
        }
        let retryable = class == Class::Retry;
        if !(retryable && p.idempotent && p.attempt < self.cfg.retry.attempts) {
            return Next::Done(res);
        }
        let cap = self.cfg.retry.retry_after_cap;
        let delay = match retry_after {
            // Longer than we honour: the caller gets the vendor's answer.
            Some(ra) if ra > cap => return Next::Done(res),
            // The quota is paused until then: the next admission waits for it.
            Some(_) => Duration::ZERO,
            None => self.cfg.retry.backoff.delay(p.attempt, &mut rand::rng()),
        };
        let resume = now + delay.max(retry_after.unwrap_or_default());
        if resume < deadline && self.budget.withdraw(now) {
            self.metrics.retries.increment(1);
            return Next::RetryAfter(delay);
        }
        self.metrics.retries_refused.increment(1);
        Next::Done(res)
    }

    /// Whether a request that got no answer is tried again, and after how long: a safe call,
    /// or one that never reached the vendor (the connection failed), within the attempts, the
    /// deadline and the budget.
    fn judge_failure(
        &self,
        failure: &junction_outbound::Failure,
        p: &Progress,
        now: Instant,
        deadline: Instant,
    ) -> Option<Duration> {
        let never_sent = matches!(failure, junction_outbound::Failure::Connect(_));
        if !((p.idempotent || never_sent) && p.attempt < self.cfg.retry.attempts) {
            return None;
        }
        let delay = self.cfg.retry.backoff.delay(p.attempt, &mut rand::rng());
        if now + delay < deadline && self.budget.withdraw(now) {
            self.metrics.retries.increment(1);
            return Some(delay);
        }
        None
    }

    /// The error for a request that got no answer.
    fn failure_error(&self, failure: junction_outbound::Failure) -> Error {
        let never_sent = matches!(failure, junction_outbound::Failure::Connect(_));
        match failure {
            junction_outbound::Failure::Timeout => Error::new(
                Code::Timeout,
                Origin::Upstream,
                format!("connector {} did not answer in time", self.cfg.name),
            )
            .with_hint(
                "raise the connector's timeouts.attempt / timeouts.total if the vendor is slow",
            ),
            junction_outbound::Failure::Connect(why) | junction_outbound::Failure::Other(why) => {
                let hint = junction_outbound::tls::hint(&why);
                let mut e = Error::new(
                    Code::UpstreamFailed,
                    Origin::Upstream,
                    format!("cannot reach connector {}: {why}", self.cfg.name),
                );
                if let Some(h) = hint {
                    e = e.with_hint(h);
                }
                if never_sent {
                    e = e.with_cause(junction_outbound::NeverSent(why));
                }
                e
            }
        }
    }
}
