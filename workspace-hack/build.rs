// A build script, even an empty one, makes cargo unify the features of this
// crate's [build-dependencies] too (the proc-macro and build-script side).
fn main() {}
