//! The base plus what Latchkey cannot do without: an HTTPS client (reqwest on
//! rustls, trusting the system's store), ID token signature and claims
//! verification (openidconnect), and the OS keychain (keyring-core over the
//! Secret Service on Linux). Each is used on input so that nothing is
//! optimized away. Run for its size, not for its output.
#![allow(clippy::print_stdout)]

fn main() {
    let input: Vec<String> = std::env::args().skip(1).collect();
    for line in size_floor::use_libraries(&size_floor::runtime(), &input) {
        println!("{line}");
    }
}
