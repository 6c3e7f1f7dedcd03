fn main() {
    let c = clockify_codegen::Contract::load(std::path::Path::new("../shared/clockify/openapi.upstream.json")).unwrap();
    let (n, report) = clockify_codegen::normalize(&c).unwrap();
    for r in report { println!("{} {}", r.name, r.places); }
    std::fs::write("openapi.json", n.to_json()).unwrap();
    match clockify_codegen::generate(&n) { Ok(a) => for a in a { std::fs::write(a.path, a.contents).unwrap(); }, Err(e) => println!("{e}") }
}
