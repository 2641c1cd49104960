//! The sink's HTML page: server-rendered, refreshes itself every few seconds,
//! no JavaScript. Every message is untrusted text and is HTML-escaped.

use std::fmt::Write;

use crate::Snapshot;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Render the page for `snap`.
pub(crate) fn render(snap: &Snapshot) -> String {
    let mut senders = String::new();
    for (addr, count) in &snap.by_sender {
        // Writing to a String cannot fail.
        let _ = write!(
            senders,
            "<tr><td>{addr}</td><td class=n>{count}</td><td><meter min=0 max={} value={count}></meter></td></tr>",
            snap.total.max(1)
        );
    }
    if senders.is_empty() {
        senders.push_str("<tr><td colspan=3>nothing yet</td></tr>");
    }
    let mut latest = String::new();
    for m in &snap.latest {
        let _ = write!(
            latest,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=rid><code>{}</code></td></tr>",
            m.at.format("%H:%M:%S"),
            m.from,
            escape(&m.message),
            escape(m.request_id.as_deref().unwrap_or("")),
        );
    }
    if latest.is_empty() {
        latest.push_str("<tr><td colspan=4>nothing yet</td></tr>");
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sink {pod}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}}
table{{border-collapse:collapse;margin-bottom:2rem}}td,th{{padding:.25rem .75rem;border-bottom:1px solid #ddd;text-align:left}}
.n{{text-align:right}}code{{font-size:.8em;color:#555}}td{{overflow-wrap:anywhere}}
@media (max-width:40rem){{body{{margin:1rem}}td,th{{padding:.25rem .4rem}}.rid{{display:none}}}}
</style></head><body>
<h1>Sink <code>{pod}</code></h1>
<p>Served by pod <code class=pod>{name}</code>. Reload a few times through <code>sink-svc</code>: each of the three sink replicas keeps its own count.</p>
<p>{total} messages logged since start. The page refreshes every 5 seconds; <a href="/messages">/messages</a> has the same as JSON.</p>
<h2>Where they came from</h2>
<p>In a cluster these are the relay pods' IPs: <code>sink-svc</code> spreads the relays' calls over the sink replicas.</p>
<table><tr><th>address</th><th>messages</th><th></th></tr>{senders}</table>
<h2>Latest</h2>
<table><tr><th>time (UTC)</th><th>from</th><th>message</th><th class=rid>request id</th></tr>{latest}</table>
</body></html>
"#,
        pod = snap.pod_ip,
        name = escape(service_kit::net::instance_name()),
        total = snap.total,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;"
        );
    }
}
