//! VPC Flow Logs.

use super::*;

/// AWS's default record format, the only one vpclab writes.
pub(super) const DEFAULT_LOG_FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";

pub(super) fn write_flow_log(x: &mut Xml, f: &vpclab_model::FlowLog) {
    x.leaf("creationTime", iso8601(f.spec.created_at))
        .leaf("deliverLogsStatus", "SUCCESS")
        .leaf("flowLogId", &f.id)
        .leaf("flowLogStatus", "ACTIVE");
    if f.spec.destination_type == "cloud-watch-logs" {
        x.leaf("logGroupName", &f.spec.destination);
    }
    x.leaf("resourceId", f.resource.id())
        .leaf("trafficType", f.spec.traffic_type.as_str())
        .leaf("logDestinationType", &f.spec.destination_type)
        .leaf("logDestination", &f.spec.destination)
        .leaf("logFormat", DEFAULT_LOG_FORMAT)
        .leaf("maxAggregationInterval", f.spec.max_aggregation_interval)
        .tags(&f.spec.tags);
}

pub(super) fn create_flow_logs(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let kind = p.required("ResourceType")?;
    let ids = p.list("ResourceId");
    if ids.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter ResourceId".into(),
        });
    }
    let traffic = p.required("TrafficType")?;
    let traffic_type = vpclab_model::TrafficType::parse(traffic).ok_or_else(|| {
        invalid(format!("Value ({traffic}) for parameter trafficType is invalid."))
    })?;
    let destination_type = p.get("LogDestinationType").unwrap_or("cloud-watch-logs");
    let destination = match destination_type {
        "cloud-watch-logs" => {
            p.get("LogGroupName").or(p.get("LogDestination")).ok_or(ApiError {
                code: "InvalidParameter",
                message: "LogGroupName or LogDestination must be specified".into(),
            })?
        }
        "s3" => {
            let arn = p.required("LogDestination")?;
            if !arn.starts_with("arn:aws:s3:::") || arn.len() == "arn:aws:s3:::".len() {
                return Err(ApiError {
                    code: "InvalidParameter",
                    message: format!("LogDestination: {arn} is not a valid S3 bucket ARN"),
                });
            }
            arn
        }
        "kinesis-data-firehose" => p.required("LogDestination")?,
        other => {
            return Err(invalid(format!(
                "Value ({other}) for parameter logDestinationType is invalid."
            )));
        }
    };
    if let Some(format) = p.get("LogFormat") {
        if format.trim() != DEFAULT_LOG_FORMAT {
            return Err(ApiError {
                code: "InvalidParameter",
                message: "vpclab writes the default flow log format only (omit LogFormat)".into(),
            });
        }
    }
    let interval = match p.get("MaxAggregationInterval") {
        Some(v) => v.parse().map_err(|_| {
            invalid(format!("Value ({v}) for parameter maxAggregationInterval is invalid."))
        })?,
        None => 600,
    };
    let spec = vpclab_model::FlowLogSpec {
        traffic_type,
        destination_type: destination_type.to_owned(),
        destination: destination.to_owned(),
        max_aggregation_interval: interval,
        created_at: ctx.now,
        tags: p.tag_specifications("vpc-flow-log")?,
    };
    let results = ctx.model.create_flow_logs(kind, &ids, &spec)?;
    let mut created = Vec::new();
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok(id) => created.push(id),
            Err(f) => failed.push(f),
        }
    }
    if let Some(token) = p.get("ClientToken") {
        x.leaf("clientToken", token);
    }
    x.values("flowLogIdSet", &created);
    unsuccessful(x, failed);
    Ok(())
}

pub(super) fn delete_flow_logs(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let ids = p.list("FlowLogId");
    if ids.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter FlowLogId".into(),
        });
    }
    let failed: Vec<(String, ApiError)> = ids
        .into_iter()
        .filter_map(|id| ctx.model.delete_flow_log(&id).err().map(|e| (id, e)))
        .collect();
    unsuccessful(x, failed);
    Ok(())
}

pub(super) fn describe_flow_logs(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = p.list("FlowLogId");
    let m = &*ctx.model;
    let list = describe::page(
        ctx.action,
        p,
        m.flow_logs().filter(|f| asked.is_empty() || asked.iter().any(|a| a == f.id.as_str())),
        |f| f.id.to_string(),
        |f, name| match name {
            "flow-log-id" => one(&f.id),
            "resource-id" => one(f.resource.id()),
            "traffic-type" => one(f.spec.traffic_type.as_str()),
            "log-destination-type" => one(&f.spec.destination_type),
            "deliver-log-status" => one("SUCCESS"),
            "log-group-name" => Some(
                (f.spec.destination_type == "cloud-watch-logs")
                    .then(|| f.spec.destination.clone())
                    .into_iter()
                    .collect(),
            ),
            _ => tag_attr(&f.spec.tags, name),
        },
    )?;
    list.write(x, "flowLogSet", write_flow_log);
    Ok(())
}
