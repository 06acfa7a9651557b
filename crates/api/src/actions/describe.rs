//! The one path every Describe action lists through: filters checked against the
//! names AWS documents for the action, values matched with AWS's wildcards, and pages
//! cut by `MaxResults` and continued by an opaque, checked `NextToken`.
//!
//! An action narrows its resources by the ids it was asked for (all-or-nothing
//! `…NotFound`, through [`super::require_all`]), then hands them to [`page`] with the
//! resource's id and its values for a filter name. [`page`] refuses a filter name the
//! action does not know before it looks at a single resource, so an unknown name fails
//! the same way whether or not anything exists yet.

use super::*;
use crate::known_params;

/// One page of a Describe answer.
#[derive(Debug)]
pub(super) struct Page<'a, T> {
    /// The resources on this page, ordered by id.
    pub(super) items: Vec<&'a T>,
    /// The token for the next page, when more match.
    pub(super) next_token: Option<String>,
}

impl<'a, T> Page<'a, T> {
    /// Writes the page as the set `name`, each resource by `item`, and its `nextToken`.
    pub(super) fn write(self, x: &mut Xml, name: &str, item: impl FnMut(&mut Xml, &'a T)) {
        x.set(name, self.items, item).opt("nextToken", self.next_token);
    }
}

/// The resources among `items` that match the request's filters, one page of them.
///
/// `id` names a resource uniquely and orders the pages; `attr` gives a resource's
/// values for a filter name, or `None` for a name the action documents but vpclab
/// does not model (such a filter matches nothing, as a value the resource lacks).
pub(super) fn page<'a, T: 'a>(
    action: &str,
    p: &Params,
    items: impl Iterator<Item = &'a T>,
    id: impl Fn(&T) -> String,
    attr: impl Fn(&T, &str) -> Option<Vec<String>>,
) -> Result<Page<'a, T>, ApiError> {
    let filters = p.filters();
    for f in &filters {
        check_filter_name(action, &f.name)?;
    }
    let paging = Paging::of(action, p)?;
    let mut matched: Vec<(String, &T)> = items
        .filter(|item| {
            filters.iter().all(|f| {
                let values = attr(item, &f.name).unwrap_or_default();
                f.values.iter().any(|pattern| values.iter().any(|v| wildcard(pattern, v)))
            })
        })
        .map(|item| (id(item), item))
        .filter(|(key, _)| paging.after.as_deref().is_none_or(|after| key.as_str() > after))
        .collect();
    matched.sort_by(|a, b| a.0.cmp(&b.0));
    let next_token = match paging.limit {
        Some(limit) if matched.len() > limit => {
            matched.truncate(limit);
            matched.last().map(|(key, _)| token(action, key))
        }
        _ => None,
    };
    Ok(Page { items: matched.into_iter().map(|(_, item)| item).collect(), next_token })
}

/// Refuses a filter name `action` does not know: AWS's documented names, `tag:<key>`
/// and `tag-value` where tags are documented, and the older spellings AWS still
/// answers (`cidr`, `isDefault`, …) vpclab's handlers list in [`ALIASES`].
fn check_filter_name(action: &str, name: &str) -> Result<(), ApiError> {
    let documented = known_params::filters(action);
    let tagged = documented.contains(&"tag")
        || documented.contains(&"tag-key")
        || TAG_FILTERED.contains(&action);
    let known = documented.contains(&name)
        || (tagged && (name.starts_with("tag:") || name == "tag-key" || name == "tag-value"))
        || ALIASES.iter().any(|(a, n)| *a == action && *n == name);
    if known { Ok(()) } else { Err(invalid(format!("The filter '{name}' is invalid"))) }
}

/// Actions whose documentation lists no tag filters but that AWS answers them for, as
/// Terraform's data sources rely on (`tags = { … }` becomes `tag:<key>` filters).
const TAG_FILTERED: &[&str] = &[
    "DescribeTransitGatewayAttachments",
    "DescribeTransitGatewayVpcAttachments",
    "DescribeTransitGatewayRouteTables",
    "DescribeTransitGateways",
];

/// Filter names AWS answers besides the documented ones: the camel-case spellings of
/// the original API.
const ALIASES: &[(&str, &str)] = &[
    ("DescribeVpcs", "isDefault"),
    ("DescribeVpcs", "cidr-block"),
    ("DescribeSubnets", "cidr"),
    ("DescribeSubnets", "cidrBlock"),
    ("DescribeSubnets", "availabilityZone"),
    ("DescribeSubnets", "defaultForAz"),
];

/// The page size of the actions that answer at most so many without a `MaxResults`.
const DEFAULT_MAX_RESULTS: &[(&str, usize)] = &[
    // "If a value is not provided, the default is 1000."
    ("SearchTransitGatewayRoutes", 1000),
];

/// What a request asks of pages: where to start and how many.
#[derive(Debug)]
struct Paging {
    /// The id of the last resource of the previous page.
    after: Option<String>,
    /// The most resources to answer.
    limit: Option<usize>,
}

impl Paging {
    fn of(action: &str, p: &Params) -> Result<Self, ApiError> {
        let limit = match (p.get("MaxResults"), known_params::max_results(action)) {
            (None, _) => DEFAULT_MAX_RESULTS.iter().find(|(a, _)| *a == action).map(|(_, n)| *n),
            (Some(text), range) => {
                let (min, max, strict) = range.unwrap_or((1, 1000, false));
                let value: i64 = text.parse().map_err(|_| {
                    invalid(format!("Value ( {text} ) for parameter maxResults is invalid."))
                })?;
                if value < i64::from(min) {
                    return Err(invalid(format!(
                        "Value ( {value} ) for parameter maxResults is invalid. \
                         Expecting a value greater than {min}."
                    )));
                }
                if value > i64::from(max) && strict {
                    return Err(invalid(format!(
                        "Value ( {value} ) for parameter maxResults is invalid. \
                         Expecting a value less than {max}."
                    )));
                }
                Some(value.min(i64::from(max)) as usize)
            }
        };
        let after = match p.get("NextToken") {
            None => None,
            Some(text) => Some(untoken(action, text).ok_or_else(|| {
                invalid(format!(
                    "Value ( {text} ) for parameter NextToken is invalid. The token is invalid."
                ))
            })?),
        };
        Ok(Self { after, limit })
    }
}

/// The token that continues `action` after the resource `key`: the key with a check
/// that binds it to the action, in URL-safe characters.
fn token(action: &str, key: &str) -> String {
    let mut text = String::with_capacity(key.len() * 2 + 16);
    for b in key.bytes() {
        text.push_str(&format!("{b:02x}"));
    }
    text.push_str(&format!("{:016x}", check(action, key)));
    text
}

/// The key a token continues after, if the token is one of `action`'s.
fn untoken(action: &str, token: &str) -> Option<String> {
    if token.len() < 16 || !token.is_ascii() || token.len() % 2 != 0 {
        return None;
    }
    let (hex, sum) = token.split_at(token.len() - 16);
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let key = String::from_utf8(bytes).ok()?;
    (u64::from_str_radix(sum, 16).ok()? == check(action, &key)).then_some(key)
}

/// FNV-1a over the action and the key: enough to tell a token from garbage, another
/// action's token or an edited one.
fn check(action: &str, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in action.bytes().chain([0]).chain(key.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One element of a filter pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pat {
    /// A character that must be there (`\*`, `\?` and `\\` escape the specials).
    Char(char),
    /// `?`: any one character.
    One,
}

/// Whether `value` matches the filter `pattern`: `*` any run of characters, `?` any one,
/// `\` escapes the next character, as AWS documents for filter values.
///
/// The pattern is cut at its stars into runs; the first run must start the value, the
/// last must end it, and each run between goes at its leftmost place after the one
/// before (leftmost is never worse for the runs that follow). No backtracking: at most
/// |pattern| × |value| comparisons, where a recursive matcher takes exponential time on
/// `*a*a*a…b`.
pub(crate) fn wildcard(pattern: &str, value: &str) -> bool {
    let mut runs: Vec<Vec<Pat>> = vec![Vec::new()];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => runs.push(Vec::new()),
            '?' => runs.last_mut().expect("one run at least").push(Pat::One),
            '\\' => {
                let escaped = chars.next().unwrap_or('\\');
                runs.last_mut().expect("one run at least").push(Pat::Char(escaped));
            }
            c => runs.last_mut().expect("one run at least").push(Pat::Char(c)),
        }
    }
    let value: Vec<char> = value.chars().collect();
    let fits = |run: &[Pat], at: &[char]| {
        run.len() <= at.len()
            && run.iter().zip(at).all(|(p, c)| match p {
                Pat::One => true,
                Pat::Char(want) => want == c,
            })
    };
    if runs.len() == 1 {
        return runs[0].len() == value.len() && fits(&runs[0], &value);
    }
    let (first, last) = (&runs[0], &runs[runs.len() - 1]);
    if first.len() + last.len() > value.len()
        || !fits(first, &value)
        || !fits(last, &value[value.len() - last.len()..])
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for run in &runs[1..runs.len() - 1] {
        match (0..=rest.len().saturating_sub(run.len())).find(|&i| fits(run, &rest[i..])) {
            Some(i) => rest = &rest[i + run.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious recursive matcher: exponential in the worst case, right by inspection.
    fn reference(p: &[Pat], star: &[bool], v: &[char]) -> bool {
        match (p.first(), v.first()) {
            (None, _) => v.is_empty(),
            _ if star[0] => {
                reference(&p[1..], &star[1..], v) || (!v.is_empty() && reference(p, star, &v[1..]))
            }
            (Some(Pat::One), Some(_)) => reference(&p[1..], &star[1..], &v[1..]),
            (Some(Pat::Char(a)), Some(b)) if a == b => reference(&p[1..], &star[1..], &v[1..]),
            _ => false,
        }
    }

    fn reference_match(pattern: &str, value: &str) -> bool {
        let (mut p, mut star) = (Vec::new(), Vec::new());
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            let (pat, is_star) = match c {
                '*' => (Pat::One, true),
                '?' => (Pat::One, false),
                '\\' => (Pat::Char(chars.next().unwrap_or('\\')), false),
                c => (Pat::Char(c), false),
            };
            p.push(pat);
            star.push(is_star);
        }
        reference(&p, &star, &value.chars().collect::<Vec<_>>())
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("web*", "web-1"));
        assert!(wildcard("*", ""));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "ac"));
        assert!(!wildcard("web", "web-1"));
        assert!(wildcard("*-1", "web-1"));
        assert!(wildcard("a*b*c", "aXbYc"));
        assert!(!wildcard("a*b*c", "aXcYb"));
        assert!(wildcard(r"\*lab\?", "*lab?"));
        assert!(!wildcard(r"\*lab", "xlab"));
        assert!(wildcard("ü?", "üß"));
    }

    #[test]
    fn the_pathological_pattern_is_fast() {
        let pattern = format!("{}b", "*a".repeat(40));
        let value = "a".repeat(4000);
        assert!(!wildcard(&pattern, &value));
        assert!(wildcard(&pattern, &(value + "b")));
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_recursive_matcher(
            pattern in "[ab*?\\\\]{0,8}",
            value in "[ab*?\\\\]{0,10}",
        ) {
            proptest::prop_assert_eq!(
                wildcard(&pattern, &value),
                reference_match(&pattern, &value),
                "{:?} against {:?}", pattern, value
            );
        }
    }

    #[test]
    fn tokens_round_trip_and_refuse_garbage() {
        let t = token("DescribeVpcs", "vpc-0123");
        assert_eq!(untoken("DescribeVpcs", &t).as_deref(), Some("vpc-0123"));
        assert_eq!(untoken("DescribeSubnets", &t), None, "another action's token");
        let mut edited = t.clone().into_bytes();
        edited[0] = if edited[0] == b'7' { b'6' } else { b'7' };
        assert_eq!(untoken("DescribeVpcs", &String::from_utf8(edited).unwrap()), None);
        for garbage in ["", "x", "not-a-token", "ü0000000000000000", &t[1..]] {
            assert_eq!(untoken("DescribeVpcs", garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn every_alias_is_an_action_that_filters() {
        for (action, name) in ALIASES {
            assert!(find(action).is_some(), "{action}");
            assert!(!known_params::filters(action).contains(name), "{name} is documented");
        }
    }
}
