//! Helpers for read models that write a batch's rows with one statement.

use std::collections::HashSet;

/// Of the rows that share a key, the last one, in the batch's order otherwise.
///
/// An upsert may not touch the same row twice in one statement; keeping the last row of each key
/// leaves what one upsert per row, in stream order, would have left.
pub fn last_of_each<T>(rows: Vec<T>, key: impl Fn(&T) -> (&str, &str)) -> Vec<T> {
    let keep = {
        let mut seen = HashSet::with_capacity(rows.len());
        let mut keep = vec![false; rows.len()];
        for (index, row) in rows.iter().enumerate().rev() {
            keep[index] = seen.insert(key(row));
        }
        keep
    };
    rows.into_iter().zip(keep).filter_map(|(row, keep)| keep.then_some(row)).collect()
}

#[cfg(test)]
mod tests {
    use super::last_of_each;

    #[test]
    fn given_a_key_told_twice_when_deduplicated_then_its_last_row_is_kept() {
        let rows = vec![("acme", "m1", 1), ("acme", "m2", 2), ("acme", "m1", 3)];

        let kept = last_of_each(rows, |row| (row.0, row.1));

        assert_eq!(kept, vec![("acme", "m2", 2), ("acme", "m1", 3)]);
    }

    #[test]
    fn given_the_same_id_in_two_tenants_when_deduplicated_then_both_are_kept() {
        let rows = vec![("acme", "m1", 1), ("globex", "m1", 2)];

        let kept = last_of_each(rows, |row| (row.0, row.1));

        assert_eq!(kept, vec![("acme", "m1", 1), ("globex", "m1", 2)]);
    }

    #[test]
    fn given_no_rows_when_deduplicated_then_none_are_kept() {
        assert!(last_of_each(Vec::<(&str, &str, u32)>::new(), |row| (row.0, row.1)).is_empty());
    }
}
