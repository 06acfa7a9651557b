//! A confirmation page of one API call on one resource (delete, release…): the GET
//! asks, the POST calls the action with the id and goes on to `done`, or asks again
//! with the API's error (400). Pages that do more (several calls, extra choices) build
//! their own.

use maud::{Markup, html};

use super::html::{self, href};
use super::{Cx, Outcome, Request};

/// What the page says and does.
#[derive(Debug)]
pub(crate) struct Confirm<'a> {
    /// The sidebar entry and path of the resource's family, e.g. `subnets`.
    pub section: &'a str,
    /// The family's name in the crumbs, e.g. "Subnets".
    pub label: &'a str,
    pub id: &'a str,
    /// The page's title and heading, e.g. "Delete subnet".
    pub title: &'a str,
    pub question: Markup,
    /// The page's own path after the resource's, e.g. `delete`.
    pub verb: &'a str,
    /// The API action and its id parameter, e.g. `DeleteSubnet` and `SubnetId`.
    pub action: &'a str,
    pub id_param: &'a str,
    pub button: &'a str,
    /// Where a success goes.
    pub done: String,
    /// An error code prefix meaning the id names nothing (404), if the page checks.
    pub missing: Option<&'a str>,
}

impl Confirm<'_> {
    pub(crate) fn run(self, cx: &Cx<'_>, req: &Request) -> Outcome {
        self.run_with(cx, req, &[])
    }

    /// [`Confirm::run`] of an action that takes more than the id: `params` go with it
    /// (`verb` then carries what names them in its query, e.g.
    /// `delete-association?attachment=tgw-attach-…`, for the POST to find them again).
    pub(crate) fn run_with(
        self,
        cx: &Cx<'_>,
        req: &Request,
        params: &[(String, String)],
    ) -> Outcome {
        let Confirm { section, label, id, title, .. } = self;
        let mut failure = None;
        if req.is_post() {
            let mut all = vec![(self.id_param.to_owned(), id.to_owned())];
            all.extend_from_slice(params);
            match cx.api.call(self.action, &all) {
                Ok(_) => return Outcome::Redirect(self.done),
                Err(f) if self.missing.is_some_and(|m| f.code.starts_with(m)) => {
                    return Outcome::NotFound;
                }
                Err(f) => failure = Some(f),
            }
        }
        let base = href(&format!("{section}/{id}"));
        let body = html! {
            (html::crumbs(section, label, id, title))
            h1 { (title) }
            @if let Some(f) = &failure { (html::error(f)) }
            (html::confirm(self.question, &format!("{base}/{}", self.verb), self.button, &base))
        };
        Outcome::form(title, section, body, failure.is_some())
    }
}
