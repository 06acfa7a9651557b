//! STS and IAM on the EC2 endpoint, as much as clients ask before anything else:
//! `GetCallerIdentity` (Terraform's AWS provider, Ansible's modules, `aws sts
//! get-caller-identity`) and IAM's `GetUser` and `ListAccountAliases` (Ansible's
//! `aws_caller_info`). boto3 and the CLI send them to the same endpoint URL as EC2 calls
//! when one is given, so the service answers them here, told apart by their API
//! versions (STS `2011-06-15`, IAM `2010-05-08`).
//!
//! There is one account and whoever calls is its root: every `OwnerId` vpclab writes is
//! the account this answers.

use vpclab_model::ApiError;

use crate::params::Params;

/// STS's API version, as in `Version=`.
pub const VERSION: &str = "2011-06-15";
/// The namespace of STS's replies.
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// IAM's API version.
pub const IAM_VERSION: &str = "2010-05-08";
/// The namespace of IAM's replies.
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// Whether `params` is an STS or IAM call.
pub fn is_sts(params: &Params) -> bool {
    matches!(params.get("Version"), Some(VERSION | IAM_VERSION))
}

/// One reply document of the Query protocol: `<{action}Response>` with its result and
/// the request id.
fn reply(namespace: &str, action: &str, result: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{namespace}\">\
         <{action}Result>{result}</{action}Result>\
         <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
         </{action}Response>"
    )
}

/// The reply body to an STS call, or the error to answer (in [`error`]'s shape).
pub fn answer(params: &Params, request_id: &str) -> Result<String, ApiError> {
    let account = vpclab_model::names::OWNER_ID;
    let iam = params.get("Version") == Some(IAM_VERSION);
    match (iam, params.required("Action")?) {
        (false, "GetCallerIdentity") => Ok(reply(
            NAMESPACE,
            "GetCallerIdentity",
            &format!(
                "<Arn>arn:aws:iam::{account}:root</Arn><UserId>{account}</UserId>\
                 <Account>{account}</Account>"
            ),
            request_id,
        )),
        (true, "GetUser") if params.get("UserName").is_none() => Ok(reply(
            IAM_NAMESPACE,
            "GetUser",
            &format!(
                "<User><Path>/</Path><UserId>{account}</UserId>\
                 <Arn>arn:aws:iam::{account}:root</Arn>\
                 <CreateDate>2026-01-01T00:00:00Z</CreateDate></User>"
            ),
            request_id,
        )),
        (true, "ListAccountAliases") => Ok(reply(
            IAM_NAMESPACE,
            "ListAccountAliases",
            "<AccountAliases/><IsTruncated>false</IsTruncated>",
            request_id,
        )),
        (iam, other) => Err(ApiError {
            code: "InvalidAction",
            message: format!(
                "Could not find operation {other} for version {} (vpclab answers STS \
                 GetCallerIdentity, IAM GetUser for the caller and ListAccountAliases)",
                if iam { IAM_VERSION } else { VERSION }
            ),
        }),
    }
}

/// STS's error document (the Query protocol's `ErrorResponse`, unlike EC2's).
pub fn error(err: &ApiError, request_id: &str) -> String {
    let mut doc = String::with_capacity(256);
    doc.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"");
    doc.push_str(NAMESPACE);
    doc.push_str("\"><Error><Type>Sender</Type><Code>");
    crate::xml::escape(&mut doc, err.code);
    doc.push_str("</Code><Message>");
    crate::xml::escape(&mut doc, &err.message);
    doc.push_str("</Message></Error><RequestId>");
    doc.push_str(request_id);
    doc.push_str("</RequestId></ErrorResponse>");
    doc
}
