//! The row editors' plumbing ("Edit routes", and the rule editors of security groups and
//! network ACLs): which button a post pressed, and the rows it posted. Without
//! JavaScript, "Add" and a row's "Remove" post the form, which comes back with a row
//! more or less (nothing saved).

use super::Request;

/// Which button was pressed: "Add …" (`add`), a row's "Remove" (`remove`, its index),
/// or the save button (neither).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Press {
    Add,
    Remove(usize),
    Save,
}

pub(super) fn pressed(req: &Request) -> Press {
    if req.form.iter().any(|(k, _)| k == "add") {
        return Press::Add;
    }
    match req.form.iter().find(|(k, _)| k == "remove").and_then(|(_, v)| v.trim().parse().ok()) {
        Some(i) => Press::Remove(i),
        None => Press::Save,
    }
}

/// The rows of a post: row `i` holds the `i`th value of each field of `names`, in that
/// order ("" past the end of a field's values).
pub(super) fn posted<const N: usize>(req: &Request, names: [&str; N]) -> Vec<[String; N]> {
    let columns: [Vec<&str>; N] = names.map(|name| req.fields(name).collect());
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
    (0..rows)
        .map(|i| columns.each_ref().map(|c| c.get(i).copied().unwrap_or("").to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(form: &[(&str, &str)]) -> Request {
        Request {
            method: "POST".into(),
            query: Vec::new(),
            form: form.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        }
    }

    #[test]
    fn the_button_pressed_and_the_rows_posted() {
        assert_eq!(pressed(&post(&[("a", "1"), ("add", "1")])), Press::Add);
        assert_eq!(pressed(&post(&[("remove", " 2 ")])), Press::Remove(2));
        assert_eq!(pressed(&post(&[("a", "1")])), Press::Save);
        let form = post(&[("a", "1"), ("b", " x "), ("a", "2")]);
        assert_eq!(
            posted(&form, ["a", "b"]),
            vec![["1".to_owned(), "x".to_owned()], ["2".to_owned(), String::new()]]
        );
        assert!(posted(&post(&[]), ["a"]).is_empty());
    }
}
