//! Key pairs.

use super::*;

/// `len` bytes derived from `seed` (SHA-256 in counter mode): stable for one key.
pub(super) fn derive_bytes(seed: &str, len: usize) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::with_capacity(len + 32);
    let mut counter = 0u32;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(seed.as_bytes());
        h.update(counter.to_be_bytes());
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(len);
    out
}

pub(super) fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

pub(super) fn api_error(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError { code, message: message.into() }
}

pub(super) fn write_key_pair(x: &mut Xml, k: &vpclab_model::KeyPair) {
    x.leaf("keyPairId", &k.id)
        .leaf("keyFingerprint", &k.fingerprint)
        .leaf("keyName", &k.name)
        .leaf("keyType", &k.key_type)
        .leaf("createTime", iso8601(k.created_at))
        .tags(&k.tags);
}

pub(super) fn create_key_pair(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let name = p.required("KeyName")?;
    let key_type = p.get("KeyType").unwrap_or("rsa");
    match p.get("KeyFormat") {
        None | Some("pem") => {}
        Some(other) => {
            return Err(invalid(format!(
                "Value ({other}) for parameter keyFormat is invalid. vpclab hands out pem only."
            )));
        }
    }
    // Well-formed PEM, not a usable key: no instance runs an SSH server.
    let (label, size) = if key_type == "ed25519" { ("OPENSSH", 387) } else { ("RSA", 1190) };
    let body = vpclab_model::base64::encode(&derive_bytes(&format!("{name}/{}", ctx.now), size));
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    let material = format!(
        "-----BEGIN {label} PRIVATE KEY-----\n{}\n-----END {label} PRIVATE KEY-----",
        lines.join("\n")
    );
    let fingerprint = colon_hex(&derive_bytes(&material, 20));
    let tags = p.tag_specifications("key-pair")?;
    let key = ctx.model.create_key_pair(name, key_type, fingerprint, ctx.now, tags)?;
    x.leaf("keyName", &key.name)
        .leaf("keyFingerprint", &key.fingerprint)
        .leaf("keyMaterial", &material)
        .leaf("keyPairId", &key.id)
        .tags(&key.tags);
    Ok(())
}

pub(super) fn import_key_pair(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let name = p.required("KeyName")?;
    let public = p.required("PublicKeyMaterial")?;
    let bad = || api_error("InvalidKey.Format", "Key is not in valid OpenSSH public key format");
    let text = vpclab_model::base64::decode(public)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let key_type = match text.split_whitespace().next() {
        Some("ssh-rsa") => "rsa",
        Some("ssh-ed25519") => "ed25519",
        _ => return Err(bad()),
    };
    let blob =
        text.split_whitespace().nth(1).and_then(vpclab_model::base64::decode).ok_or_else(bad)?;
    let fingerprint = colon_hex(&derive_bytes(&String::from_utf8_lossy(&blob), 16));
    let tags = p.tag_specifications("key-pair")?;
    let key = ctx.model.create_key_pair(name, key_type, fingerprint, ctx.now, tags)?;
    x.leaf("keyFingerprint", &key.fingerprint)
        .leaf("keyName", &key.name)
        .leaf("keyPairId", &key.id)
        .tags(&key.tags);
    Ok(())
}

pub(super) fn describe_key_pairs(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let names = p.list("KeyName");
    let ids = p.list("KeyPairId");
    let m = &*ctx.model;
    for name in &names {
        m.key_pair(name)?;
    }
    if let Some(missing) =
        ids.iter().find(|id| !m.key_pairs().any(|k| k.id.as_str() == id.as_str()))
    {
        return Err(api_error(
            "InvalidKeyPair.NotFound",
            format!("The key pair '{missing}' does not exist"),
        ));
    }
    let keys = describe::page(
        ctx.action,
        p,
        m.key_pairs().filter(|k| {
            (names.is_empty() || names.contains(&k.name))
                && (ids.is_empty() || ids.iter().any(|id| id == k.id.as_str()))
        }),
        |k| k.id.to_string(),
        |k, name| match name {
            "key-name" => one(&k.name),
            "key-pair-id" => one(&k.id),
            "fingerprint" => one(&k.fingerprint),
            "key-type" => one(&k.key_type),
            _ => tag_attr(&k.tags, name),
        },
    )?;
    keys.write(x, "keySet", write_key_pair);
    Ok(())
}

pub(super) fn delete_key_pair(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = p.get("KeyPairId").map(|id| {
        KeyPairId::parse(id).ok_or_else(|| malformed("InvalidKeyPair.Malformed", "key", id))
    });
    let id = id.transpose()?;
    let name = p.get("KeyName");
    if name.is_none() && id.is_none() {
        return Err(api_error(
            "MissingParameter",
            "The request must contain the parameter KeyName or KeyPairId",
        ));
    }
    let deleted = ctx.model.delete_key_pair(name, id.as_ref());
    x.leaf("return", "true").opt("keyPairId", deleted.map(|k| k.id));
    Ok(())
}
