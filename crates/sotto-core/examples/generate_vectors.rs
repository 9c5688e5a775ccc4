//! Writes the known-answer vectors to `testdata/vectors/`:
//! `cargo run -p sotto-core --example generate_vectors`.
//!
//! Vectors pin the protocol down: regenerate them only for a deliberate, versioned change, and
//! keep the old files of stored formats (`session_record_v1.json`) loading.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/vectors_gen/mod.rs"]
mod vectors_gen;

fn main() {
    let directory = vectors_gen::directory();
    std::fs::create_dir_all(&directory).unwrap();
    for (name, value) in vectors_gen::all() {
        let path = directory.join(name);
        let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        println!("wrote {}", path.display());
    }
}
