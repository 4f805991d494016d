//! `junction mock`: the mock provider, until SIGTERM/SIGINT.

use std::process::ExitCode;
use std::time::Duration;

use junction_mock::{AuthConfig, HeaderStyle, Limit, QuotaConfig};

use crate::cli::{MockArgs, RateLimitHeaders};

/// Parses `200/s`, `1000/min`, `50000/day`, `10/5s`, with an optional `:global`.
fn parse_quota(text: &str) -> Result<Limit, String> {
    let (spec, global) = match text.strip_suffix(":global") {
        Some(s) => (s, true),
        None => (text, false),
    };
    let (limit, window) = spec
        .split_once('/')
        .ok_or(format!("`{text}`: write LIMIT/WINDOW, e.g. 200/s"))?;
    let limit: u32 = limit
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: the limit must be a whole number"))?;
    let window = match window.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        "day" | "d" => Duration::from_secs(86_400),
        other => humantime::parse_duration(other)
            .map_err(|e| format!("`{text}`: bad window `{other}`: {e}"))?,
    };
    if limit == 0 || window.is_zero() {
        return Err(format!(
            "`{text}`: the limit and the window must be above zero"
        ));
    }
    Ok(Limit {
        limit,
        window,
        per_key: !global,
    })
}

pub async fn run(args: MockArgs) -> ExitCode {
    let limits = match args
        .quotas
        .iter()
        .map(|q| parse_quota(q))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: --quota {e}");
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    let headers = match args.rate_limit_headers {
        RateLimitHeaders::Draft => HeaderStyle::Draft,
        RateLimitHeaders::X => HeaderStyle::XRateLimit,
        RateLimitHeaders::None => HeaderStyle::None,
    };
    let auth = AuthConfig {
        required: args.require_auth,
        token_ttl: args.token_ttl,
        advertise_expires_in: !args.no_expires_in,
        ..Default::default()
    };
    let config = junction_mock::MockConfig {
        seed: args.seed,
        customers: args.customers,
        auth,
        quotas: QuotaConfig { limits, headers },
        ..Default::default()
    };
    let mock = match junction_mock::Mock::start(config, args.listen).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(super::EXIT_FAILURE);
        }
    };
    eprintln!(
        "junction mock: serving a fake CRM at {} ({} customers, seed {}); inspect {}/_mock/requests",
        mock.url(),
        args.customers,
        args.seed,
        mock.url()
    );
    match mock.run_until(junction_server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(super::EXIT_FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_quota;
    use std::time::Duration;

    #[test]
    fn quotas_parse_as_written() {
        let q = parse_quota("200/s").unwrap();
        assert_eq!(
            (q.limit, q.window, q.per_key),
            (200, Duration::from_secs(1), true)
        );
        let q = parse_quota("50000/day:global").unwrap();
        assert_eq!(
            (q.limit, q.window, q.per_key),
            (50_000, Duration::from_secs(86_400), false)
        );
        assert_eq!(parse_quota("10/5s").unwrap().window, Duration::from_secs(5));
        assert!(parse_quota("ten/s").is_err());
        assert!(parse_quota("0/s").is_err());
        assert!(parse_quota("200").is_err());
    }
}
