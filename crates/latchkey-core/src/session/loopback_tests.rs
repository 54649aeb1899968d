//! Tests of loopback sign-ins.
