//! floor-deps plus the other libraries Latchkey's features ask for (see
//! `required.rs`): what is left between this and Latchkey is Latchkey's own
//! code. Run for its size, not for its output.

fn main() {
    size_floor::required::init_logging();
    let input: Vec<String> = std::env::args().skip(1).collect();
    size_floor::required::use_all(&size_floor::runtime(), &input);
}
