//! The XML and SOAP decoders against random documents built from the pieces real and hostile
//! ones are made of (entities, DTDs, deep nesting, broken tags): each is decoded or refused with
//! a reason, quickly, never a panic.

use std::time::{Duration, Instant};

use junction_transform::codec::{soap, xml};
use rand::{Rng, SeedableRng};

const PIECES: &[&str] = &[
    "<a>",
    "</a>",
    "<b x=\"1\">",
    "</b>",
    "<c/>",
    "<item>",
    "</item>",
    "text",
    "&amp;",
    "&lt;",
    "&#65;",
    "&#x1F600;",
    "&#0;",
    "&#xFFFFFFFF;",
    "&lol;",
    "<!DOCTYPE a [<!ENTITY lol \"lol\">]>",
    "<![CDATA[x]]>",
    "<?xml version=\"1.0\"?>",
    "<!-- c -->",
    "<",
    ">",
    "\"",
    "'",
    "=",
    " ",
    "é",
    "\u{0}",
    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">",
    "</soap:Envelope>",
    "<soap:Body>",
    "</soap:Body>",
    "<soap:Fault>",
    "<faultcode>",
    "</faultcode>",
    "</soap:Fault>",
    "<a:b xmlns:a=\"urn:x\">",
    "</a:b>",
];

#[test]
fn random_documents_are_decoded_or_refused_never_a_panic() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    for _ in 0..20_000 {
        let mut doc: String = (0..rng.random_range(0..30))
            .map(|_| PIECES[rng.random_range(0..PIECES.len())])
            .collect();
        if rng.random_bool(0.05) {
            // Deep nesting.
            let depth = rng.random_range(100..5_000);
            doc = "<a>".repeat(depth) + &"</a>".repeat(depth);
        }
        let started = Instant::now();
        let _ = xml::decode(doc.as_bytes());
        let _ = soap::unwrap(doc.as_bytes());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{} bytes took {:?}",
            doc.len(),
            started.elapsed()
        );
    }
}
