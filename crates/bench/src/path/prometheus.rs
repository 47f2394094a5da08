//! Reading samples of this process's metrics in the Prometheus text format, one line at a time:
//! `name{label="value",...} 12`.

/// The value of label `name` on a sample line, if it has that label.
pub(crate) fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    ['{', ','].into_iter().find_map(|before| {
        let rest = line.split_once(&format!("{before}{name}=\""))?.1;
        rest.split('"').next()
    })
}

/// The sample's value (a counter or bucket count), 0 when it cannot be read.
pub(crate) fn value(line: &str) -> f64 {
    line.rsplit(' ').next().and_then(|n| n.parse::<f64>().ok()).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_is_read_by_its_whole_name_and_the_sample_by_its_last_field() {
        let line = "switchboard_handler_duration_seconds_bucket{consumer=\"router\",le=\"0.005\"} 42";
        assert_eq!(label(line, "consumer"), Some("router"));
        assert_eq!(label(line, "le"), Some("0.005"));
        assert_eq!(label(line, "rpc"), None);
        assert_eq!(value(line), 42.0);
    }

    #[test]
    fn a_label_whose_name_ends_another_is_not_taken_for_it() {
        let line = "x_bucket{handle=\"a\",le=\"+Inf\"} 3";
        assert_eq!(label(line, "le"), Some("+Inf"));
        assert_eq!(label("x{handle=\"a\"} 1", "le"), None);
        assert_eq!(value("x{a=\"b\"} not-a-number"), 0.0);
    }
}
