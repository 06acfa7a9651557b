//! "Attach to VPC" and "Detach from VPC" of the gateways that attach to one VPC at a
//! time, a VPC taking one of each kind: internet gateways and virtual private gateways.

use maud::html;

use super::choices;
use super::html::{self, href};
use super::{Cx, El, Failure, Outcome, Request};

/// What differs between the kinds of gateway.
#[derive(Debug)]
pub(crate) struct Attachable {
    /// The sidebar entry and path of the family, e.g. `internet-gateways`.
    pub section: &'static str,
    /// The family's name in the crumbs, e.g. "Internet gateways".
    pub label: &'static str,
    /// The gateway's name in sentences, with its article: ("an", "internet gateway").
    pub noun: (&'static str, &'static str),
    /// The Describe action, its id parameter, the reply's set and the error code prefix
    /// of an id that names nothing.
    pub describe: (&'static str, &'static str, &'static str, &'static str),
    /// The id parameter of the attach and detach actions, and the actions.
    pub id_param: &'static str,
    pub attach: &'static str,
    pub detach: &'static str,
    /// The VPC a gateway is attached to, or "".
    pub attached_vpc: fn(&El) -> &str,
    /// What "Attach to VPC" says the gateway is for.
    pub purpose: &'static str,
    /// What detaching costs.
    pub consequence: &'static str,
    /// The API's error for detaching a gateway attached to nothing (the page answers it
    /// without calling the API, which would need a VPC).
    pub not_attached: fn(&str) -> Failure,
}

impl Attachable {
    /// The gateway `id`.
    pub(crate) fn describe(&self, cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
        let (action, id_param, set, missing) = self.describe;
        cx.api.describe_one(action, id_param, id, set, |c| c.starts_with(missing))
    }

    /// The gateway `id`, or the page to answer instead.
    fn load(&self, cx: &Cx<'_>, id: &str, title: &str) -> Result<El, Outcome> {
        match self.describe(cx, id) {
            Ok(Some(g)) => Ok(g),
            Ok(None) => Err(Outcome::NotFound),
            Err(f) => Err(Outcome::failed(title, self.section, &f)),
        }
    }

    /// The VPCs no gateway of this kind is attached to.
    fn free_vpcs(&self, cx: &Cx<'_>) -> Result<Vec<(String, String)>, Failure> {
        let vpcs = cx.api.call("DescribeVpcs", &[])?;
        let gateways = cx.api.call(self.describe.0, &[])?;
        let taken: Vec<&str> = gateways.items(self.describe.2).map(self.attached_vpc).collect();
        Ok(vpcs
            .items("vpcSet")
            .filter(|v| !taken.contains(&v.text("vpcId")))
            .map(choices::vpc)
            .collect())
    }

    /// "Attach to VPC": a choice of the VPCs without such a gateway.
    pub(crate) fn attach(&self, cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
        let title = "Attach to VPC";
        let (article, noun) = self.noun;
        let g = match self.load(cx, id, title) {
            Ok(g) => g,
            Err(outcome) => return outcome,
        };
        let base = href(&format!("{}/{id}", self.section));
        let mut failure = None;
        if req.is_post() {
            let params = [
                (self.id_param.to_owned(), id.to_owned()),
                ("VpcId".to_owned(), req.field("vpc").to_owned()),
            ];
            match cx.api.call(self.attach, &params) {
                Ok(_) => return Outcome::Redirect(format!("{base}?done=attached")),
                Err(f) => failure = Some(f),
            }
        }
        let options = match self.free_vpcs(cx) {
            Ok(options) => options,
            Err(f) => return Outcome::failed(title, self.section, &f),
        };
        let attached = (self.attached_vpc)(&g);
        let body = html! {
            (html::crumbs(self.section, self.label, id, title))
            h1 { (title) " (" (id) ")" }
            @if let Some(f) = &failure { (html::error(f)) }
            @if !attached.is_empty() {
                p { "This " (noun) " is attached to " (html::link("vpcs", attached)) ". Detach it first to attach it elsewhere." }
            }
            form.edit method="post" action=(format!("{base}/attach")) {
                fieldset {
                    legend { "VPC" }
                    p { "Attach " (article) " " (noun) " to a VPC " (self.purpose) ". Specify the VPC to attach below." }
                    (html::select("vpc", "Available VPCs", &options, req.field("vpc")))
                    @if options.is_empty() {
                        p.hint { "Every VPC has " (article) " " (noun) " already (a VPC takes one). "
                            a href=(href("vpcs/new")) { "Create VPC" } }
                    }
                }
                (html::form_actions(&base, &format!("Attach {noun}")))
            }
        };
        Outcome::form(title, self.section, body, failure.is_some())
    }

    /// "Detach from VPC": a confirmation.
    pub(crate) fn detach(&self, cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
        let title = "Detach from VPC";
        let noun = self.noun.1;
        let g = match self.load(cx, id, title) {
            Ok(g) => g,
            Err(outcome) => return outcome,
        };
        let base = href(&format!("{}/{id}", self.section));
        let vpc = (self.attached_vpc)(&g).to_owned();
        let mut failure = None;
        if req.is_post() {
            if vpc.is_empty() {
                failure = Some((self.not_attached)(id));
            } else {
                let params =
                    [(self.id_param.to_owned(), id.to_owned()), ("VpcId".to_owned(), vpc.clone())];
                match cx.api.call(self.detach, &params) {
                    Ok(_) => return Outcome::Redirect(format!("{base}?done=detached")),
                    Err(f) => failure = Some(f),
                }
            }
        }
        let body = html! {
            (html::crumbs(self.section, self.label, id, title))
            h1 { (title) }
            @if let Some(f) = &failure { (html::error(f)) }
            @if vpc.is_empty() {
                p { "This " (noun) ", " strong { (id) } ", is not attached to a VPC." }
                p { a.button href=(base) { "Back" } }
            } @else {
                (html::confirm(
                    html! { p { "Are you sure you want to detach " (noun) " " strong { (id) }
                        " from VPC " strong { (vpc) } "? " (self.consequence) } },
                    &format!("{base}/detach"),
                    &format!("Detach {noun}"),
                    &base,
                ))
            }
        };
        Outcome::form(title, self.section, body, failure.is_some())
    }
}
