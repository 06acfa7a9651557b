//! STS on the EC2 endpoint: `GetCallerIdentity`, which Terraform's AWS provider,
//! Ansible's modules and `aws sts get-caller-identity` call before anything else.
//! boto3 and the CLI send it to the same endpoint URL as EC2 calls, so the service
//! answers it here, told apart by STS's API version (`Version=2011-06-15`).
//!
//! There is one account and whoever calls is its root: every `OwnerId` vpclab writes is
//! the account this answers.

use vpclab_model::ApiError;

use crate::params::Params;

/// STS's API version, as in `Version=`.
pub const VERSION: &str = "2011-06-15";
/// The namespace of STS's replies.
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Whether `params` is an STS call.
pub fn is_sts(params: &Params) -> bool {
    params.get("Version") == Some(VERSION)
}

/// The reply body to an STS call, or the error to answer (in [`error`]'s shape).
pub fn answer(params: &Params, request_id: &str) -> Result<String, ApiError> {
    match params.required("Action")? {
        "GetCallerIdentity" => {
            let account = vpclab_model::names::OWNER_ID;
            Ok(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                 <GetCallerIdentityResponse xmlns=\"{NAMESPACE}\">\
                 <GetCallerIdentityResult>\
                 <Arn>arn:aws:iam::{account}:root</Arn>\
                 <UserId>{account}</UserId>\
                 <Account>{account}</Account>\
                 </GetCallerIdentityResult>\
                 <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
                 </GetCallerIdentityResponse>"
            ))
        }
        other => Err(ApiError {
            code: "InvalidAction",
            message: format!(
                "Could not find operation {other} for version {VERSION} (vpclab answers \
                 GetCallerIdentity only)"
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
