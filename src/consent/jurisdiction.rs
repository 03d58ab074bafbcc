//! Jurisdiction defaults: what "no consent signal" means for a request,
//! by the jurisdiction its CDN says it comes from (`[consent.jurisdiction]`).
//!
//! The operator names the request headers their CDN sets (a country code,
//! and optionally a region: CloudFront's `CloudFront-Viewer-Country` and
//! `CloudFront-Viewer-Country-Region`, Cloudflare's `CF-IPCountry`,
//! Vercel's `X-Vercel-IP-Country`); privgate never looks an address up.
//! The headers are believed only from peers in `server.trusted_proxies`
//! (ingest checks that): anyone else could claim any country.
//!
//! A request's jurisdiction is its country (ISO 3166-1 alpha-2, `DE`) or,
//! with a region header, its subdivision (ISO 3166-2, `US-CA`). Its
//! default is, most specific first: the table's entry for the subdivision,
//! for the country, for a group the country belongs to (`EEA`: the EU and
//! Iceland, Liechtenstein, Norway; `EU`), else `[consent] default`. A
//! request whose jurisdiction is unknown (no header, a value that is no
//! country code, Cloudflare's `XX` and `T1`) gets `unknown`, deny unless
//! the operator says otherwise.
//!
//! Never: reads a client address, logs the value, or decides beyond the
//! default (signals the request carries still decide as everywhere).

use super::ConsentDefault;
use http::{HeaderMap, HeaderName};

/// The EU's member states (ISO 3166-1 alpha-2; Greece is `GR`).
const EU: [&str; 27] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// The EEA beyond the EU.
const EEA_ONLY: [&str; 3] = ["IS", "LI", "NO"];

/// A place a table entry names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A group of countries (`EEA`, `EU`).
    Group(Group),
    /// A country (`DE`).
    Country([u8; 2]),
    /// A subdivision (`US-CA`): the country and the region code.
    Region([u8; 2], Box<str>),
}

/// The groups a table may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// The European Economic Area: the EU, Iceland, Liechtenstein, Norway.
    Eea,
    /// The European Union.
    Eu,
}

impl Group {
    fn contains(self, country: [u8; 2]) -> bool {
        let code = std::str::from_utf8(&country).unwrap_or("");
        EU.contains(&code) || (self == Group::Eea && EEA_ONLY.contains(&code))
    }
}

impl Place {
    /// `EEA`, `EU`, `DE`, `US-CA` (case-insensitive); `None` for anything
    /// else.
    pub fn parse(text: &str) -> Option<Place> {
        let upper = text.trim().to_ascii_uppercase();
        match upper.as_str() {
            "EEA" => return Some(Place::Group(Group::Eea)),
            "EU" => return Some(Place::Group(Group::Eu)),
            _ => {}
        }
        match upper.split_once('-') {
            None => country(&upper).map(Place::Country),
            Some((c, region)) => {
                let c = country(c)?;
                let ok = (1..=3).contains(&region.len())
                    && region.bytes().all(|b| b.is_ascii_alphanumeric());
                ok.then(|| Place::Region(c, region.into()))
            }
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = |c: &[u8; 2]| String::from_utf8_lossy(c).into_owned();
        match self {
            Place::Group(Group::Eea) => f.write_str("EEA"),
            Place::Group(Group::Eu) => f.write_str("EU"),
            Place::Country(c) => f.write_str(&code(c)),
            Place::Region(c, r) => write!(f, "{}-{r}", code(c)),
        }
    }
}

/// Two ASCII letters, and not one of the codes CDNs use for "no country"
/// (Cloudflare's `XX`, and `T1` for Tor, which has a digit anyway).
fn country(text: &str) -> Option<[u8; 2]> {
    let b = text.as_bytes();
    (b.len() == 2 && b.iter().all(u8::is_ascii_uppercase) && text != "XX").then(|| [b[0], b[1]])
}

/// A request's jurisdiction, as its headers say it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jurisdiction {
    country: [u8; 2],
    region: Option<Box<str>>,
}

impl Jurisdiction {
    /// A jurisdiction written as a country (`DE`) or subdivision
    /// (`US-CA`), as `privgate explain --jurisdiction` takes it.
    pub fn parse(text: &str) -> Option<Jurisdiction> {
        match Place::parse(text)? {
            Place::Country(country) => Some(Jurisdiction {
                country,
                region: None,
            }),
            Place::Region(country, region) => Some(Jurisdiction {
                country,
                region: Some(region),
            }),
            Place::Group(_) => None,
        }
    }
}

/// `[consent.jurisdiction]`, validated: where the jurisdiction is read and
/// the defaults by place.
#[derive(Clone, Debug)]
pub struct Jurisdictions {
    /// The header with the country code (or `CC-REGION`).
    pub country_header: HeaderName,
    /// The header with the region code (`CA` or `US-CA`), if the CDN sets one.
    pub region_header: Option<HeaderName>,
    /// Places and their defaults.
    pub defaults: Vec<(Place, ConsentDefault)>,
    /// The default where the jurisdiction is unknown.
    pub unknown: ConsentDefault,
}

impl Jurisdictions {
    /// The jurisdiction `headers` state (`None`: unknown). The caller
    /// passes headers only from a trusted peer.
    pub fn read(&self, headers: &HeaderMap) -> Option<Jurisdiction> {
        let one = |name: &HeaderName| {
            let mut values = headers.get_all(name).iter();
            let first = values.next()?.to_str().ok()?.trim().to_ascii_uppercase();
            // Given twice, the header says nothing certain.
            values.next().is_none().then_some(first)
        };
        let stated = one(&self.country_header)?;
        let (country_text, mut region) = match stated.split_once('-') {
            Some((c, r)) => (c.to_owned(), Some(r.to_owned())),
            None => (stated, None),
        };
        let country = country(&country_text)?;
        if let Some(header) = &self.region_header {
            if let Some(text) = one(header) {
                // `CA` or `US-CA`; another country's region says nothing.
                region = match text.split_once('-') {
                    Some((c, r)) if c == country_text => Some(r.to_owned()),
                    Some(_) => None,
                    None => Some(text),
                };
            }
        }
        let region = region
            .filter(|r| (1..=3).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()));
        Some(Jurisdiction {
            country,
            region: region.map(Into::into),
        })
    }

    /// Which setting decides "no signal" in `at`, in words for `explain
    /// --trace`: a table entry (config), `unknown`, or `[consent] default`.
    pub fn rule_for(&self, at: Option<&Jurisdiction>) -> String {
        let Some(at) = at else {
            return "consent.jurisdiction.unknown (the jurisdiction is unknown)".into();
        };
        match self.entry(at) {
            Some(place) => format!("consent.jurisdiction.defaults.{place}"),
            None => "consent.default (no jurisdiction entry covers the place)".into(),
        }
    }

    /// The table entry that applies in `at`, most specific first.
    fn entry(&self, at: &Jurisdiction) -> Option<&Place> {
        let find = |want: &dyn Fn(&Place) -> bool| {
            self.defaults
                .iter()
                .find(|(place, _)| want(place))
                .map(|(place, _)| place)
        };
        let region = at.region.as_deref().and_then(|region| {
            find(&|p| matches!(p, Place::Region(c, r) if *c == at.country && &**r == region))
        });
        region
            .or_else(|| find(&|p| *p == Place::Country(at.country)))
            .or_else(|| find(&|p| matches!(p, Place::Group(g) if g.contains(at.country))))
    }

    /// What "no signal" means in `at`, with `fallback` (`[consent]
    /// default`) for a known place the table does not name.
    pub fn default_for(
        &self,
        at: Option<&Jurisdiction>,
        fallback: ConsentDefault,
    ) -> ConsentDefault {
        let Some(at) = at else {
            return self.unknown;
        };
        let entry = self.entry(at);
        entry
            .and_then(|place| self.defaults.iter().find(|(p, _)| p == place))
            .map_or(fallback, |&(_, d)| d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConsentDefault::{Allow, Deny};

    fn table() -> Jurisdictions {
        Jurisdictions {
            country_header: HeaderName::from_static("cloudfront-viewer-country"),
            region_header: Some(HeaderName::from_static("cloudfront-viewer-country-region")),
            defaults: vec![
                (Place::parse("EEA").unwrap(), Deny),
                (Place::parse("GB").unwrap(), Deny),
                (Place::parse("us-ca").unwrap(), Allow),
                (Place::parse("US").unwrap(), Deny),
            ],
            unknown: Deny,
        }
    }

    fn at(country: &str, region: Option<&str>) -> ConsentDefault {
        let t = table();
        let mut h = HeaderMap::new();
        h.insert(&t.country_header, country.parse().unwrap());
        if let Some(region) = region {
            h.insert(t.region_header.as_ref().unwrap(), region.parse().unwrap());
        }
        t.default_for(t.read(&h).as_ref(), Allow)
    }

    #[test]
    fn the_most_specific_place_decides() {
        assert_eq!(at("US", Some("CA")), Allow);
        assert_eq!(at("us", Some("US-CA")), Allow);
        assert_eq!(at("US-CA", None), Allow);
        assert_eq!(at("US", Some("TX")), Deny, "the country's entry");
        assert_eq!(at("US", None), Deny);
        assert_eq!(at("DE", None), Deny, "an EEA member");
        assert_eq!(at("NO", Some("03")), Deny, "EEA, not EU");
        assert_eq!(at("GB", None), Deny);
        assert_eq!(
            at("JP", None),
            Allow,
            "a known place the table omits: the fallback"
        );
    }

    #[test]
    fn unknown_jurisdictions_get_the_unknown_default() {
        let t = table();
        assert_eq!(t.default_for(None, Allow), Deny);
        for bad in ["XX", "T1", "", "USA", "1", "D-", "DE-TOOLONG"] {
            let mut h = HeaderMap::new();
            h.insert(&t.country_header, bad.parse().unwrap());
            let read = t.read(&h);
            assert!(
                read.is_none() || bad == "DE-TOOLONG",
                "{bad} is no country: {read:?}"
            );
        }
        // A country with a malformed region is the country.
        let mut h = HeaderMap::new();
        h.insert(&t.country_header, "DE-TOOLONG".parse().unwrap());
        assert_eq!(t.default_for(t.read(&h).as_ref(), Allow), Deny);
        // Given twice, the header is unknown.
        let mut h = HeaderMap::new();
        h.append(&t.country_header, "US".parse().unwrap());
        h.append(&t.country_header, "DE".parse().unwrap());
        assert_eq!(t.read(&h), None);
        // Another country's region is ignored.
        assert_eq!(at("US", Some("MX-CA")), Deny);
    }

    #[test]
    fn places_parse_strictly() {
        assert_eq!(Place::parse("eea"), Some(Place::Group(Group::Eea)));
        assert_eq!(Place::parse("DE"), Some(Place::Country(*b"DE")));
        assert_eq!(
            Place::parse("US-CA"),
            Some(Place::Region(*b"US", "CA".into()))
        );
        for bad in ["", "D", "DEU", "XX", "US-", "US-ABCD", "U1"] {
            assert_eq!(Place::parse(bad), None, "{bad}");
        }
        assert_eq!(EU.len() + EEA_ONLY.len(), 30);
    }
}
