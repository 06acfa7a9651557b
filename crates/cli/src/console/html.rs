//! The console's page furniture: the frame (header, sidebar, main column), lists,
//! details, tabs, action menus, forms and messages. maud escapes every value, so a tag
//! holding `<script>` stays text.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::api::{El, Failure};

/// The sidebar, as the VPC console groups it: (group, [(page, label)]).
pub(crate) const SIDEBAR: &[(&str, &[(&str, &str)])] = &[
    ("", &[("", "VPC dashboard"), ("map", "Resource map")]),
    (
        "Virtual private cloud",
        &[
            ("vpcs", "Your VPCs"),
            ("subnets", "Subnets"),
            ("route-tables", "Route tables"),
            ("internet-gateways", "Internet gateways"),
            ("elastic-ips", "Elastic IPs"),
            ("nat-gateways", "NAT gateways"),
            ("peering-connections", "Peering connections"),
            ("endpoints", "Endpoints"),
        ],
    ),
    ("Security", &[("network-acls", "Network ACLs"), ("security-groups", "Security groups")]),
    (
        "Transit gateways",
        &[
            ("transit-gateways", "Transit gateways"),
            ("transit-gateway-attachments", "Transit gateway attachments"),
            ("transit-gateway-route-tables", "Transit gateway route tables"),
        ],
    ),
    (
        "Virtual private network (VPN)",
        &[
            ("customer-gateways", "Customer gateways"),
            ("vpn-gateways", "Virtual private gateways"),
            ("vpn-connections", "Site-to-Site VPN connections"),
        ],
    ),
    ("Compute", &[("instances", "Instances")]),
    ("Lab", &[("reachability", "Reachability")]),
];

/// The console's root path.
pub(crate) const ROOT: &str = "/console/";

/// A link to console page `path` (relative to the root).
pub(crate) fn href(path: &str) -> String {
    format!("{ROOT}{path}")
}

/// A whole page: `section` is the sidebar entry it belongs to.
pub(crate) fn page(title: &str, section: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " | VPC console | vpclab" }
                link rel="stylesheet" href=(href("assets/console.css"));
                script src=(href("assets/console.js")) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a href=(ROOT) { "vpclab" }
                    span { "VPC console" }
                    span.region { "US East (N. Virginia) us-east-1" }
                    @if let Some(key) = SignedIn::current() {
                        span.who { (key) }
                        form.signout method="post" action=(href("logout")) {
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                div.frame {
                    nav.side aria-label="VPC console" {
                        @for (group, entries) in SIDEBAR {
                            @if !group.is_empty() { h2 { (group) } }
                            ul {
                                @for (path, label) in *entries {
                                    li {
                                        a href=(href(path))
                                            aria-current=[(*path == section).then_some("page")] {
                                            (label)
                                        }
                                    }
                                }
                            }
                        }
                    }
                    main #main { (body) }
                }
            }
        }
    }
}

thread_local! {
    static SIGNED_IN: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Who the page being rendered signs as (an access key id), for the header: set for
/// one request on the thread that renders it, cleared when the guard goes.
#[derive(Debug)]
pub(crate) struct SignedIn(());

impl SignedIn {
    pub(crate) fn set(key: Option<String>) -> Self {
        SIGNED_IN.with(|s| *s.borrow_mut() = key);
        SignedIn(())
    }

    fn current() -> Option<String> {
        SIGNED_IN.with(|s| s.borrow().clone())
    }
}

impl Drop for SignedIn {
    fn drop(&mut self) {
        SIGNED_IN.with(|s| *s.borrow_mut() = None);
    }
}

/// The breadcrumb line: the section's list (`section`, its link, named `label`), then
/// resource `id`, then the page `here` (the id a link when a page follows it). Without an
/// id, the page is the section's own ("Create …").
pub(crate) fn crumbs(section: &str, label: &str, id: &str, here: &str) -> Markup {
    html! {
        p.crumbs {
            a href=(href(section)) { (label) } " › "
            @if id.is_empty() {
                (here)
            } @else if here.is_empty() {
                (id)
            } @else {
                a href=(href(&format!("{section}/{id}"))) { (id) } " › " (here)
            }
        }
    }
}

/// A title bar with buttons or menus on its right.
pub(crate) fn bar(title: &str, right: Markup) -> Markup {
    html! { div.bar { h1 { (title) } (right) } }
}

/// An "Actions" menu: `(label, href)` entries, each a page of its own (a form, or a
/// confirmation — the console's popups).
pub(crate) fn actions(entries: &[(&str, String)]) -> Markup {
    html! {
        details.actions {
            summary.button { "Actions" }
            menu {
                @for (label, link) in entries { li { a href=(link) { (label) } } }
            }
        }
    }
}

/// A message at the top of a page: a success, or the API's error with its code.
pub(crate) fn notice(text: &str) -> Markup {
    html! { div.flash.ok role="status" { (text) } }
}

pub(crate) fn error(failure: &Failure) -> Markup {
    html! {
        div.flash.error role="alert" {
            code { (failure.code) } ": " (failure.message)
        }
    }
}

/// A resource's state, coloured.
pub(crate) fn state(value: &str) -> Markup {
    html! { span class=(format!("state {value}")) { (value) } }
}

/// A link to a resource's detail page.
pub(crate) fn link(kind: &str, id: &str) -> Markup {
    if id.is_empty() {
        return html! { "–" };
    }
    html! { a href=(href(&format!("{kind}/{id}"))) { (id) } }
}

/// Links to resources `ids` of `kind`, comma separated, or a dash for none.
pub(crate) fn links(kind: &str, ids: &[&str]) -> Markup {
    html! {
        @if ids.is_empty() { "–" }
        @for (i, id) in ids.iter().enumerate() { @if i > 0 { ", " } (link(kind, id)) }
    }
}

/// `value`, or a dash for nothing.
pub(crate) fn or_dash(value: &str) -> Markup {
    html! { @if value.is_empty() { "–" } @else { (value) } }
}

/// A boolean of a reply (`true`/`false`) as the console shows it.
pub(crate) fn yes_no(value: &str) -> &'static str {
    if value == "true" { "Yes" } else { "No" }
}

/// A list's column: its heading and how a row shows it.
pub(crate) struct Column<'a> {
    pub heading: &'static str,
    pub cell: Box<dyn Fn(&El) -> Markup + 'a>,
}

impl std::fmt::Debug for Column<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Column").field("heading", &self.heading).finish_non_exhaustive()
    }
}

pub(crate) fn column<'a>(heading: &'static str, cell: impl Fn(&El) -> Markup + 'a) -> Column<'a> {
    Column { heading, cell: Box::new(cell) }
}

/// A table of `rows`, filtered by `search` (a row is kept when any cell's text has it,
/// case-insensitively, as the console's search box does).
pub(crate) fn table(label: &str, columns: &[Column<'_>], rows: &[&El], search: &str) -> Markup {
    let needle = search.trim().to_lowercase();
    let rendered: Vec<Vec<Markup>> = rows
        .iter()
        .map(|row| columns.iter().map(|c| (c.cell)(row)).collect::<Vec<_>>())
        .filter(|cells: &Vec<Markup>| {
            needle.is_empty()
                || cells.iter().any(|c| text_of(&c.0).to_lowercase().contains(&needle))
        })
        .collect();
    html! {
        @if rendered.is_empty() {
            p.empty { @if needle.is_empty() { "No " (label) " yet." } @else { "No " (label) " match." } }
        } @else {
            div.scroll {
                table.list aria-label=(label) {
                    thead { tr { @for c in columns { th scope="col" { (c.heading) } } } }
                    tbody {
                        @for cells in &rendered {
                            tr { @for cell in cells { td { (cell) } } }
                        }
                    }
                }
            }
            p.hint { (rendered.len()) " of " (rows.len()) }
        }
    }
}

/// The visible text of rendered markup (tags dropped, entities kept as written).
fn text_of(markup: &str) -> String {
    let mut out = String::with_capacity(markup.len());
    let mut in_tag = false;
    for c in markup.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"")
}

/// A list page's frame: the title bar with its create button (`create`: the page's path
/// and the button's label), the search box and the table of `rows`, named `things`.
pub(crate) fn list(
    title: &str,
    create: Option<(&str, &str)>,
    things: &str,
    columns: &[Column<'_>],
    rows: &[&El],
    search_for: &str,
) -> Markup {
    html! {
        (bar(title, html! {
            @if let Some((path, label)) = create { a.button.primary href=(href(path)) { (label) } }
        }))
        (search(things, search_for))
        (table(things, columns, rows, search_for))
    }
}

/// A search box for a list.
pub(crate) fn search(label: &str, value: &str) -> Markup {
    html! {
        form.filter method="get" role="search" {
            label.inline for="search" { "Find " (label) }
            input #search type="search" name="search" value=(value) placeholder="Filter by any value";
            " "
            button type="submit" { "Filter" }
        }
    }
}

/// A resource's details: `(label, value)` pairs.
pub(crate) fn details(items: &[(&str, Markup)]) -> Markup {
    html! {
        dl.details {
            @for (label, value) in items { div { dt { (label) } dd { (value) } } }
        }
    }
}

/// Tabs, each a link to the same page with `?tab=`.
pub(crate) fn tabs(base: &str, current: &str, tabs: &[(&str, &str)]) -> Markup {
    html! {
        nav.tabs aria-label="Details" {
            @for (tab, label) in tabs {
                a href=(format!("{base}?tab={tab}")) aria-current=[(*tab == current).then_some("page")] {
                    (label)
                }
            }
        }
    }
}

/// A resource's tags.
pub(crate) fn tags_table(el: &El) -> Markup {
    let tags: Vec<&El> = el.items("tagSet").collect();
    html! {
        @if tags.is_empty() {
            p.empty { "No tags." }
        } @else {
            table.list aria-label="Tags" {
                thead { tr { th scope="col" { "Key" } th scope="col" { "Value" } } }
                tbody { @for t in &tags { tr { td { (t.text("key")) } td { (t.text("value")) } } } }
            }
        }
    }
}

/// A text field with its label and hint.
pub(crate) fn text_field(name: &str, label: &str, value: &str, hint: &str) -> Markup {
    html! {
        label for=(name) { (label) @if !hint.is_empty() { span.hint { (hint) } } }
        input type="text" id=(name) name=(name) value=(value);
    }
}

/// A checkbox `name` (posted as `on` when ticked) with its label.
pub(crate) fn checkbox(name: &str, label: &str, checked: bool) -> Markup {
    html! {
        p {
            input type="checkbox" id=(name) name=(name) checked[checked];
            label.inline for=(name) { (label) }
        }
    }
}

/// A select with its label: `(value, text)` options.
pub(crate) fn select(
    name: &str,
    label: &str,
    options: &[(String, String)],
    chosen: &str,
) -> Markup {
    html! {
        label for=(name) { (label) }
        select id=(name) name=(name) {
            @for (value, text) in options {
                option value=(value) selected[value == chosen] { (text) }
            }
        }
    }
}

/// A form's cancel link and submit button.
pub(crate) fn form_actions(cancel: &str, submit: &str) -> Markup {
    html! {
        div.form-actions {
            a.button href=(cancel) { "Cancel" }
            button.primary type="submit" { (submit) }
        }
    }
}

/// A confirmation page's form: the console's popup, as a page.
pub(crate) fn confirm(question: Markup, action: &str, button: &str, cancel: &str) -> Markup {
    html! {
        form.edit method="post" action=(action) {
            fieldset { (question) }
            div.form-actions {
                a.button href=(cancel) { "Cancel" }
                button.primary type="submit" { (button) }
            }
        }
    }
}

/// Markup from trusted, already-escaped text (the map's SVG).
pub(crate) fn trusted(text: String) -> Markup {
    PreEscaped(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_the_current_page_is_marked() {
        let page = page("<b>x</b>", "subnets", html! { p { ("<script>alert(1)</script>") } });
        let text = page.into_string();
        assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!text.contains("<script>alert"));
        assert!(text.contains(r#"<a href="/console/subnets" aria-current="page">Subnets</a>"#));
        assert!(text.contains(r#"<a href="/console/vpcs">Your VPCs</a>"#));
    }

    #[test]
    fn crumbs_link_the_section_and_the_id_when_a_page_follows() {
        let own = crumbs("subnets", "Subnets", "subnet-1", "").into_string();
        assert_eq!(
            own,
            r#"<p class="crumbs"><a href="/console/subnets">Subnets</a> › subnet-1</p>"#
        );
        let below = crumbs("subnets", "Subnets", "subnet-1", "Delete <subnet>").into_string();
        assert!(below.contains(
            r#"<a href="/console/subnets/subnet-1">subnet-1</a> › Delete &lt;subnet&gt;"#
        ));
        let create = crumbs("subnets", "Subnets", "", "Create subnet").into_string();
        assert_eq!(
            create,
            r#"<p class="crumbs"><a href="/console/subnets">Subnets</a> › Create subnet</p>"#
        );
    }

    #[test]
    fn a_list_has_its_bar_search_and_table() {
        let text = list("Your VPCs", Some(("vpcs/new", "Create VPC")), "VPCs", &[], &[], "x")
            .into_string();
        assert!(text.contains("<h1>Your VPCs</h1>"), "{text}");
        assert!(text.contains(r#"href="/console/vpcs/new">Create VPC</a>"#), "{text}");
        assert!(text.contains("Find VPCs") && text.contains(r#"value="x""#), "{text}");
        assert!(text.contains("No VPCs match."), "{text}");
        let bare = list("T", None, "things", &[], &[], "").into_string();
        assert!(!bare.contains("button primary"), "{bare}");
    }

    #[test]
    fn the_search_keeps_rows_with_the_text_in_any_cell() {
        let row = |id: &str, name: &str| El {
            name: "item".into(),
            value: String::new(),
            children: vec![
                El { name: "id".into(), value: id.into(), children: vec![] },
                El { name: "n".into(), value: name.into(), children: vec![] },
            ],
        };
        let (a, b) = (row("vpc-1", "Lab & co"), row("vpc-2", "other"));
        let columns = [
            column("ID", |r: &El| link("vpcs", r.text("id"))),
            column("Name", |r: &El| html! { (r.text("n")) }),
        ];
        let all = table("VPCs", &columns, &[&a, &b], "");
        assert!(all.0.contains("vpc-1") && all.0.contains("vpc-2"));
        let some = table("VPCs", &columns, &[&a, &b], "lab &");
        assert!(some.0.contains("vpc-1") && !some.0.contains("vpc-2"), "{}", some.0);
        let none = table("VPCs", &columns, &[&a, &b], "nothing");
        assert!(none.0.contains("No VPCs match."));
    }
}
