// `sqlx::migrate!` embeds the files of `migrations/` when the crate
// compiles, and cargo does not know the macro reads them: without this
// line, adding or editing a migration alone left the old set in the binary.
// (A build script that names its inputs is rerun only when one of them is
// newer, see workspace-hack/build.rs.)
fn main() {
    println!("cargo::rerun-if-changed=migrations");
}
