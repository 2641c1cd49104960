// A build script, even an empty one, makes cargo unify the features of this
// crate's [build-dependencies] too (the proc-macro and build-script side).
//
// The rerun-if-changed line matters for the image build. A build script
// that names no inputs is rerun whenever the newest modification time among
// its package's files differs from the last run's, earlier as well as later.
// The image build's last stage touches the files that changed since its last
// build, so the next build sees this package's older times again: the
// script reran and every crate of the workspace recompiled after a one-line
// change elsewhere. Named inputs are compared by "newer than", as sources are.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
}
