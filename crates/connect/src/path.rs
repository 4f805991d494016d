//! Where a call may go: the connector's base URL is an allow-list of one origin and one path
//! prefix. A caller's path is refused, never "cleaned", when any decoding of it holds a `.` or
//! `..` segment, a backslash, a control character, or makes it an absolute URL — so no request
//! reaches another host or leaves the base path, however the trick is encoded.

use junction_config::Connector;
use junction_core::{Code, Error, Origin};

/// The upstream URL for `path` (as received, percent-encoded) and `query` under the connector.
pub fn target(c: &Connector, path: &str, query: Option<&str>) -> Result<url::Url, Error> {
    check(path)?;
    if let Some(q) = query {
        if q.bytes().any(|b| b.is_ascii_control() || b == b'#') {
            return Err(refused("the query holds control characters or a fragment"));
        }
    }
    let rel = path.trim_start_matches('/');
    let mut url = c.base_url.clone();
    if rel.is_empty() && !c.base_path.is_empty() {
        // The base URL itself (a SOAP endpoint, for one), without a trailing slash.
        url.set_path(&c.base_path);
    } else {
        url.set_path(&format!("{}/{rel}", c.base_path));
    }
    url.set_query(query.filter(|q| !q.is_empty()));
    // The URL parser must not have moved us: same origin, still under the base path.
    let p = url.path();
    let under = c.base_path.is_empty()
        || (p.starts_with(c.base_path.as_str())
            && matches!(p.as_bytes().get(c.base_path.len()), None | Some(b'/')));
    let same_origin = url.scheme() == c.base_url.scheme()
        && url.host_str() == c.base_url.host_str()
        && url.port_or_known_default() == c.base_url.port_or_known_default();
    if !same_origin || !under {
        return Err(refused("the path leaves the connector's base URL"));
    }
    Ok(url)
}

fn refused(why: &str) -> Error {
    Error::new(Code::BadRequest, Origin::Downstream, format!("path refused: {why}")).with_hint(
        "call paths under the connector's base URL, without `.`/`..` segments, backslashes or absolute URLs",
    )
}

/// Checks the path as received and after each round of percent-decoding (up to three, which
/// covers double- and triple-encoding; a fourth level is refused outright).
fn check(path: &str) -> Result<(), Error> {
    if !path.contains('%') {
        return inspect(path);
    }
    let mut current = path.to_owned();
    for round in 0..4 {
        inspect(&current)?;
        let decoded = percent_decode(&current)?;
        if decoded == current {
            return Ok(());
        }
        if round == 3 {
            return Err(refused("the path is encoded too many times"));
        }
        current = decoded;
    }
    Ok(())
}

fn inspect(p: &str) -> Result<(), Error> {
    if p.contains('\\') {
        return Err(refused("backslashes are not allowed"));
    }
    if p.chars().any(|c| c.is_control()) {
        return Err(refused("control characters are not allowed"));
    }
    let rel = p.trim_start_matches('/');
    if p.starts_with("//")
        || rel.contains("://")
        || rel.split('/').next().is_some_and(|s| s.ends_with(':'))
    {
        return Err(refused("absolute URLs are not allowed"));
    }
    // A segment's `;` parameters (`..;jsessionid=x`) are dropped by some servers before they
    // resolve dot segments: judge the segment without them.
    if p.split('/')
        .map(|s| s.split(';').next().unwrap_or_default())
        .any(|s| s == "." || s == "..")
    {
        return Err(refused("`.` and `..` segments are not allowed"));
    }
    Ok(())
}

fn percent_decode(s: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => return Err(refused("a `%` is not followed by two hex digits")),
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| refused("the path is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(base: &str) -> Connector {
        let yaml = format!("connectors:\n  c:\n    base_url: {base}\n");
        let cfg =
            junction_config::load_str(&yaml, "t.yaml", &Default::default(), &|_| None).unwrap();
        cfg.connectors["c"].clone()
    }

    #[test]
    fn ordinary_paths_land_under_the_base_path() {
        let c = connector("https://api.example.com/v1");
        let u = target(&c, "/customers/cus_1", Some("limit=10")).unwrap();
        assert_eq!(
            u.as_str(),
            "https://api.example.com/v1/customers/cus_1?limit=10"
        );
        let u = target(&c, "customers/a%20b", None).unwrap();
        assert_eq!(u.as_str(), "https://api.example.com/v1/customers/a%20b");
        let root = connector("http://127.0.0.1:9000");
        assert_eq!(
            target(&root, "/x", None).unwrap().as_str(),
            "http://127.0.0.1:9000/x"
        );
    }

    #[test]
    fn every_path_escape_trick_is_refused() {
        let c = connector("https://api.example.com/v1");
        for evil in [
            "/../admin",
            "/customers/../../admin",
            "/%2e%2e/admin",
            "/%2E%2E/admin",
            "/.%2e/admin",
            "/%252e%252e/admin",
            "/%25252e%25252e/admin",
            "/customers/..%2fadmin",
            "/customers/%2e%2e%2f%2e%2e%2fadmin",
            "/customers\\..\\admin",
            "/customers/%5c..%5cadmin",
            "//evil.example.com/x",
            "/http://evil.example.com/x",
            "/https:%2f%2fevil.example.com",
            "http://evil.example.com/",
            "/./customers",
            "/customers/%00",
            "/customers/%zz",
            "/a\r\nHost: evil",
            "/..;/admin",
            "/customers/..;x=1/..;/admin",
            "/.;/customers",
            "/%2e%2e;/admin",
            "/%2e%2e%3b/admin",
        ] {
            let r = target(&c, evil, None);
            assert!(r.is_err(), "{evil} was allowed: {r:?}");
            assert_eq!(r.unwrap_err().code(), Code::BadRequest);
        }
        assert!(target(&c, "/x", Some("a=1#frag")).is_err());
    }

    #[test]
    fn any_path_is_refused_or_stays_under_the_base_path_never_a_panic() {
        use rand::{Rng, SeedableRng};
        const PIECES: &[&str] = &[
            "/",
            "//",
            ".",
            "..",
            "%2e",
            "%2E",
            "%2f",
            "%2F",
            "%25",
            "%5c",
            "%3b",
            ";",
            "\\",
            ":",
            "http:",
            "a",
            "v1",
            "customers",
            "%",
            "%0",
            "%zz",
            "%00",
            "?",
            "#",
            "é",
            "%c3%a9",
            "%ff",
            "~",
            "@",
            "evil.example",
        ];
        let c = connector("https://api.example.com/v1");
        let mut rng = rand::rngs::StdRng::seed_from_u64(16);
        for _ in 0..50_000 {
            let path: String = (0..rng.random_range(0..12))
                .map(|_| PIECES[rng.random_range(0..PIECES.len())])
                .collect();
            if let Ok(url) = target(&c, &path, None) {
                assert_eq!(url.host_str(), Some("api.example.com"), "{path}");
                let p = url.path();
                assert!(p == "/v1" || p.starts_with("/v1/"), "{path} → {url}");
                // However many times the path is decoded, no dot segment appears.
                let mut text = p.to_owned();
                for _ in 0..4 {
                    let segments = text
                        .split('/')
                        .map(|s| s.split(';').next().unwrap_or_default());
                    assert!(
                        !segments.clone().any(|s| s == ".." || s == "."),
                        "{path} → {url}"
                    );
                    match percent_decode(&text) {
                        Ok(d) if d != text => text = d,
                        _ => break,
                    }
                }
            }
        }
    }
}
