//! Tests of `loopback`.
