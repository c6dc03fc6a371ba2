#![allow(clippy::unwrap_used)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let tree = gauntlet_job::ProgramTree::lkp_src(&args[1]).unwrap();
    let file = gauntlet_job::JobFile::load(
        &args[2],
        &gauntlet_job::LoadOptions {
            tree: tree.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    for j in file.expand(&gauntlet_job::ExpandOptions {
        testbox: Some("tbox".into()),
        arch: Some("x86_64".into()),
        ..Default::default()
    }) {
        let j = j.unwrap();
        println!("== {}\n{}", j.file_name(), j.to_yaml());
        println!("{}", j.to_shell(&tree).unwrap());
    }
}
