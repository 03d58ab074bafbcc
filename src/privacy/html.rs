//! The notice as an HTML page a site can link from its privacy notice:
//! one self-contained document (inline CSS, no script, no image, no
//! external resource; the answer's Content-Security-Policy forbids them
//! too), readable at phone width (a narrow column, lists rather than
//! tables, long words wrapped), and every text from the config escaped.

use super::words::list;
use super::{Destination, FieldRule, Notice, Operator, Source};
use std::fmt::Write;

/// The style sheet: system fonts at 16px or more, one column at most
/// 46rem wide, nothing wider than the screen.
const STYLE: &str = "\
*{box-sizing:border-box}\
html{-webkit-text-size-adjust:100%}\
body{margin:0;font:16px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
color:#1b1b1b;background:#fafafa;overflow-wrap:anywhere}\
main{max-width:46rem;margin:0 auto;padding:1rem}\
h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0 1rem}\
h2{font-size:1.3rem;margin:2rem 0 .75rem;border-bottom:1px solid #ddd;padding-bottom:.25rem}\
h3{font-size:1.1rem;margin:0 0 .5rem}\
h4{font-size:1rem;margin:1rem 0 .25rem}\
section.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:1rem;margin:0 0 1rem}\
ul{padding-left:1.25rem;margin:.25rem 0}\
li{margin:.25rem 0}\
dl{margin:.5rem 0}dt{font-weight:600;margin-top:.5rem}dd{margin:0}\
code{font-size:.95em;background:#f0f0f0;border-radius:4px;padding:0 .2em}\
.muted{color:#555}\
footer{margin:2rem 0 1rem;font-size:.95rem;color:#555}\
a{color:#0645ad}\
@media (prefers-color-scheme:dark){body{background:#111;color:#eee}\
section.card{background:#1b1b1b;border-color:#333}code{background:#2a2a2a}\
.muted,footer{color:#aaa}a{color:#8ab4f8}h2{border-color:#333}}";

/// The page.
pub(crate) fn render(notice: &Notice) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>How your analytics data is handled</title><style>",
    );
    out.push_str(STYLE);
    out.push_str("</style></head><body><main>\n<h1>How your analytics data is handled</h1>\n");
    out.push_str(
        "<p>This site's analytics pass through privgate, which decides what is collected, \
         for whom, and in which form, before anything leaves. This page is generated from the \
         configuration it is running now, so it says what actually happens.</p>\n",
    );
    operator(&mut out, &notice.operator);
    opt_out(&mut out, notice);
    let _ = writeln!(out, "<h2 id=\"destinations\">Where your data goes</h2>");
    for d in &notice.destinations {
        destination(&mut out, d);
    }
    let _ = writeln!(
        out,
        "<h2 id=\"sources\">What is collected, and how consent is read</h2>"
    );
    for s in &notice.sources {
        source(&mut out, s);
    }
    let _ = write!(
        out,
        "<footer>Generated from configuration version <code>{}</code> (schema <code>{}</code>). \
         The same notice as JSON: <a href=\"?format=json\">?format=json</a>.</footer>\n\
         </main></body></html>\n",
        esc(&notice.config_version),
        esc(notice.schema)
    );
    out
}

fn operator(out: &mut String, o: &Operator) {
    if o.controller.is_none() && o.contact.is_none() && o.policy_url.is_none() {
        return;
    }
    out.push_str("<section class=\"card\"><dl>");
    if let Some(controller) = &o.controller {
        let _ = write!(
            out,
            "<dt>Who is responsible</dt><dd>{}</dd>",
            esc(controller)
        );
    }
    if let Some(contact) = &o.contact {
        // Validation allows only http(s) URLs and email addresses.
        let href = match contact.contains("://") {
            true => contact.clone(),
            false => format!("mailto:{contact}"),
        };
        let _ = write!(
            out,
            "<dt>Questions about your data</dt><dd><a href=\"{}\">{}</a></dd>",
            esc(&href),
            esc(contact)
        );
    }
    if let Some(url) = &o.policy_url {
        let _ = write!(
            out,
            "<dt>Privacy policy</dt><dd><a href=\"{}\">{}</a></dd>",
            esc(url),
            esc(url)
        );
    }
    out.push_str("</dl></section>\n");
}

fn opt_out(out: &mut String, notice: &Notice) {
    out.push_str("<h2>How to opt out</h2><ul>");
    let gpc = &notice.opt_out.gpc_denies;
    if gpc.is_empty() {
        out.push_str(
            "<li>Use the site's consent banner or settings: destinations that need your \
             consent receive nothing without it.</li>",
        );
    } else {
        let _ = write!(
            out,
            "<li>Turn on <strong>Global Privacy Control</strong> in your browser (or an \
             extension): it withdraws consent for {} on every request.</li>\
             <li>Or use the site's consent banner or settings.</li>",
            esc(&list(gpc))
        );
    }
    if notice.opt_out.on_request {
        out.push_str(
            "<li>Ask the operator to <strong>leave you out or erase your data</strong>: your \
             events are then kept from every destination that honours opt-outs, those still \
             waiting to be sent are never sent, and each destination that supports it is asked \
             to delete what it received.</li>",
        );
    }
    if notice.opt_out.registry {
        out.push_str(
            "<li>Ask the operator to add you to its <strong>opt-out list</strong>: your events \
             are then kept from every destination that honours it, whatever else they say.</li>",
        );
    }
    out.push_str("</ul>\n");
    if !notice.records.is_empty() {
        out.push_str("<h2>What else is kept</h2><ul>");
        for r in &notice.records {
            let _ = write!(out, "<li>{}: kept {}.</li>", esc(&r.what), esc(&r.kept));
        }
        out.push_str("</ul>\n");
    }
}

fn destination(out: &mut String, d: &Destination) {
    let _ = write!(
        out,
        "<section class=\"card\"><h3>{}</h3>",
        esc(&d.display_name)
    );
    if let Some(description) = &d.description {
        let _ = write!(out, "<p>{}</p>", esc(description));
    }
    let where_to = match d.delivered_to.as_str() {
        "external_service" => "an external service",
        "local_file" => "a file on the operator's server",
        _ => "the operator's server log",
    };
    let purposes = match d.purposes.is_empty() {
        true => "None: it receives events whatever consent says".to_owned(),
        false => format!(
            "Your consent for {}{}",
            match (d.purposes.len(), d.purposes_match.as_str()) {
                (1, _) => "",
                (_, "any") => "any one of ",
                _ => "all of ",
            },
            list(&d.purposes)
        ),
    };
    let _ = write!(
        out,
        "<dl><dt>Sent to</dt><dd>{where_to}</dd><dt>Needs</dt><dd>{}</dd>",
        esc(&purposes)
    );
    if let Some(vendor) = d.tcf_vendor {
        let _ = write!(
            out,
            "<dt>IAB TCF vendor</dt><dd>{vendor} (a consent string must give it consent)</dd>"
        );
    }
    let _ = write!(
        out,
        "<dt>Opt-out list</dt><dd>{}</dd><dt>Encryption</dt><dd>{}</dd>\
         <dt>Waiting before delivery</dt><dd>{}</dd></dl>",
        match d.honours_opt_out {
            true => "honoured",
            false => "not honoured: it receives opted-out people's events",
        },
        match (d.encrypted, d.delivered_to.as_str()) {
            (true, _) => "every batch it receives is encrypted (JWE, AES-256-GCM)",
            (false, "external_service") => "sent as is (over TLS when its address is https)",
            (false, _) => "written as is",
        },
        esc(&d.retention.words())
    );
    out.push_str("<h4>What it receives</h4><ul>");
    if d.fields.is_empty() && d.allow_list.is_none() {
        out.push_str("<li>Events as the tracker sent them, no field changed.</li>");
    }
    for rule in &d.fields {
        field_rule(out, rule);
    }
    if let Some(allow) = &d.allow_list {
        let labels: Vec<String> = allow.iter().map(|f| f.label.clone()).collect();
        let _ = write!(
            out,
            "<li>Only {} reach it; <strong>every other field is removed</strong>.</li>",
            esc(&list(&labels))
        );
    }
    out.push_str("</ul></section>\n");
}

fn field_rule(out: &mut String, rule: &FieldRule) {
    let labels: Vec<String> = rule.fields.iter().map(|f| f.label.clone()).collect();
    let selectors: Vec<String> = rule.fields.iter().map(|f| f.selector.clone()).collect();
    let _ = write!(
        out,
        "<li><strong>{}</strong> {} {}. <span class=\"muted\">({}{})</span></li>",
        esc(&capitalize(&list(&labels))),
        if labels.len() == 1 { "is" } else { "are" },
        esc(&rule.treatment.words()),
        esc(&selectors.join(", ")),
        match rule.scope.as_str() {
            "global" => "; for every destination",
            _ => "",
        }
    );
}

fn source(out: &mut String, s: &Source) {
    let _ = write!(
        out,
        "<section class=\"card\"><h3>{}</h3><dl><dt>Trackers</dt><dd>{}</dd>\
         <dt>Your IP address</dt><dd>{}</dd><dt>Goes to</dt><dd>{}</dd></dl>",
        esc(&s.name),
        esc(&list(&s.trackers)),
        match s.client_ip.as_str() {
            "full" => "passed on in full (rules below may still change it)",
            "none" => "not passed on",
            _ => "passed on cut to its network (IPv4 /24, IPv6 /48)",
        },
        esc(&list(&s.destinations))
    );
    out.push_str("<h4>Consent signals honoured</h4><ul>");
    if s.consent_signals.is_empty() {
        out.push_str("<li>None is read for this tracker.</li>");
    }
    for signal in &s.consent_signals {
        let (name, what) = signal.words();
        let _ = write!(
            out,
            "<li><strong>{}</strong>: {}</li>",
            esc(&name),
            esc(&what)
        );
    }
    let _ = writeln!(
        out,
        "</ul><h4>No signal</h4><p>{}</p></section>",
        esc(&s.no_signal.words())
    );
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` safe in HTML element content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
