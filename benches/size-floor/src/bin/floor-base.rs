//! The base of the size floor: a tokio runtime, JSON and URLs (what a Tauri
//! app already links), used on input so that nothing is optimized away.
#![allow(clippy::print_stdout)]

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let input: Vec<String> = std::env::args().skip(1).collect();
    let parsed = runtime.block_on(async move {
        let url = input.first().and_then(|u| url::Url::parse(u).ok());
        let json = input
            .get(1)
            .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok());
        (url.map(|u| u.to_string()), json.map(|j| j.to_string()))
    });
    println!("{parsed:?}");
}
