//! A labelled data set as `switchboard classifier train` reads it: CSV with a header row, or JSON
//! lines (the first byte picks which). Every example taken has a text and a label within bounds.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use switchboard_nlu::intent::dataset::{Columns, read};

fuzz_target!(|input: &[u8]| {
    let Some((kind, bytes)) = input.split_first() else { return };
    let path = Path::new(if kind % 2 == 0 { "fuzz.csv" } else { "fuzz.jsonl" });
    if let Ok(examples) = read(path, bytes, &Columns::default()) {
        for example in examples {
            assert!(!example.text.is_empty() && !example.label.is_empty());
            assert_eq!(example.text.trim(), example.text);
        }
    }
});
