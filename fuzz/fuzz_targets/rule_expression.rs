//! A rule expression from a config: parsing never panics, and neither does evaluating it
//! (comparisons, logic and exact signed arithmetic) on extreme values.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_detect::expr::{parse, PathPart, Scope, Val};
use palisade_primitives::U256;

struct Extremes;

impl Scope for Extremes {
    fn lookup(&self, path: &[PathPart]) -> Val {
        match path.first() {
            Some(PathPart::Name(n)) if n == "max" => Val::Uint(U256::MAX),
            Some(PathPart::Name(n)) if n == "min" => Val::Neg(U256::MAX),
            Some(PathPart::Name(n)) if n == "zero" => Val::Uint(U256::ZERO),
            Some(PathPart::Name(n)) if n == "one" => Val::Neg(U256::from(1)),
            Some(PathPart::Name(n)) if n == "list" => {
                Val::List(vec![Val::Uint(U256::MAX), Val::Null, Val::Bool(true)])
            }
            _ => Val::Null,
        }
    }

    fn knows(&self, _: &str) -> bool {
        true
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(e) = parse(s) {
            let _ = e.truthy(&Extremes);
        }
    }
});
