//! Human-readable and JSON ABI signatures, resolved once and used to decode calls and logs.

use crate::expr::Val;
use alloy_dyn_abi::{DynSolEvent, DynSolType, DynSolValue, Specifier};
use alloy_json_abi::{Event, Function, JsonAbi};
use alloy_primitives::{Bytes, B256};

/// A function signature ready for decoding calldata.
#[derive(Debug, Clone)]
pub(crate) struct FnSig {
    pub(crate) signature: String,
    pub(crate) selector: [u8; 4],
    pub(crate) names: Vec<String>,
    ty: DynSolType,
}

/// An event signature ready for decoding logs.
#[derive(Debug, Clone)]
pub(crate) struct EvSig {
    pub(crate) signature: String,
    pub(crate) topic0: Option<B256>,
    pub(crate) indexed_names: Vec<String>,
    pub(crate) body_names: Vec<String>,
    ev: DynSolEvent,
}

fn find_in_abi<'a, T>(
    name: &str,
    abi: Option<&'a JsonAbi>,
    get: impl Fn(&'a JsonAbi, &str) -> Option<&'a Vec<T>>,
) -> Result<&'a T, String> {
    let abi = abi.ok_or_else(|| {
        format!("{name:?} is a bare name: give a full signature such as {name}(address,uint256) or an `abi` file")
    })?;
    match get(abi, name).map(Vec::as_slice) {
        Some([one]) => Ok(one),
        Some([]) | None => Err(format!("{name:?} is not in the ABI file")),
        Some(_) => Err(format!("{name:?} is overloaded in the ABI: give the full signature")),
    }
}

impl FnSig {
    pub(crate) fn parse(sig: &str, abi: Option<&JsonAbi>) -> Result<Self, String> {
        let f = if sig.contains('(') {
            Function::parse(sig).map_err(|e| format!("bad function signature {sig:?}: {e}"))?
        } else {
            find_in_abi(sig, abi, |a, n| a.functions.get(n))?.clone()
        };
        let tys = f
            .inputs
            .iter()
            .map(|p| p.resolve())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot resolve the types of {sig:?}: {e}"))?;
        Ok(Self {
            signature: f.signature(),
            selector: f.selector().0,
            names: f.inputs.iter().map(|p| p.name.clone()).collect(),
            ty: DynSolType::Tuple(tys),
        })
    }

    /// The types of the arguments, in order.
    pub(crate) fn arg_types(&self) -> Vec<crate::vars::Ty> {
        match &self.ty {
            DynSolType::Tuple(ts) => ts.iter().map(|t| crate::vars::Ty::of_abi(t, false)).collect(),
            other => vec![crate::vars::Ty::of_abi(other, false)],
        }
    }

    /// Decodes calldata (selector included) when the selector matches.
    pub(crate) fn decode(&self, input: &Bytes) -> Option<Result<Vec<Val>, String>> {
        if input.len() < 4 || input[..4] != self.selector {
            return None;
        }
        Some(match self.ty.abi_decode_sequence(&input[4..]) {
            Ok(DynSolValue::Tuple(vs)) => Ok(vs.iter().map(to_val).collect()),
            Ok(_) => Err("unexpected decoded shape".into()),
            Err(e) => Err(e.to_string()),
        })
    }
}

impl EvSig {
    pub(crate) fn parse(sig: &str, abi: Option<&JsonAbi>) -> Result<Self, String> {
        let e = if sig.contains('(') {
            Event::parse(sig).map_err(|e| format!("bad event signature {sig:?}: {e}"))?
        } else {
            find_in_abi(sig, abi, |a, n| a.events.get(n))?.clone()
        };
        let ev = e.resolve().map_err(|er| format!("cannot resolve the types of {sig:?}: {er}"))?;
        Ok(Self {
            signature: e.signature(),
            topic0: (!e.anonymous).then(|| e.selector()),
            indexed_names: e.inputs.iter().filter(|p| p.indexed).map(|p| p.name.clone()).collect(),
            body_names: e.inputs.iter().filter(|p| !p.indexed).map(|p| p.name.clone()).collect(),
            ev,
        })
    }

    /// The types of the decoded fields: indexed fields then data fields, as in
    /// [`EvSig::decode`].
    pub(crate) fn field_types(&self) -> Vec<crate::vars::Ty> {
        let indexed = self.ev.indexed().iter().map(|t| crate::vars::Ty::of_abi(t, true));
        let body = self.ev.body().iter().map(|t| crate::vars::Ty::of_abi(t, false));
        indexed.chain(body).collect()
    }

    /// Decodes a log when its first topic matches. Returns (names, values) in declaration order
    /// of indexed fields then data fields.
    pub(crate) fn decode(
        &self,
        topics: &[B256],
        data: &Bytes,
    ) -> Option<Result<Vec<(String, Val)>, String>> {
        if let Some(t0) = self.topic0 {
            if topics.first() != Some(&t0) {
                return None;
            }
        }
        if topics.len() != self.indexed_names.len() + usize::from(self.topic0.is_some()) {
            return None;
        }
        Some(match self.ev.decode_log_parts(topics.iter().copied(), data) {
            Ok(d) => {
                let mut out = Vec::with_capacity(d.indexed.len() + d.body.len());
                for (n, v) in self.indexed_names.iter().zip(&d.indexed) {
                    out.push((n.clone(), to_val(v)));
                }
                for (n, v) in self.body_names.iter().zip(&d.body) {
                    out.push((n.clone(), to_val(v)));
                }
                Ok(out)
            }
            Err(e) => Err(e.to_string()),
        })
    }
}

/// Converts a decoded ABI value to an expression value.
pub(crate) fn to_val(v: &DynSolValue) -> Val {
    match v {
        DynSolValue::Bool(b) => Val::Bool(*b),
        DynSolValue::Uint(u, _) => Val::Uint(*u),
        DynSolValue::Int(i, _) => {
            if i.is_negative() {
                Val::Neg(i.unsigned_abs())
            } else {
                Val::Uint(i.into_raw())
            }
        }
        DynSolValue::FixedBytes(w, n) => Val::Bytes(Bytes::copy_from_slice(&w[..*n])),
        DynSolValue::Address(a) => Val::Addr(*a),
        DynSolValue::Function(f) => Val::Bytes(Bytes::copy_from_slice(f.as_slice())),
        DynSolValue::Bytes(b) => Val::Bytes(Bytes::copy_from_slice(b)),
        DynSolValue::String(s) => Val::Str(s.clone()),
        DynSolValue::Array(xs) | DynSolValue::FixedArray(xs) | DynSolValue::Tuple(xs) => {
            Val::List(xs.iter().map(to_val).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{hex, U256};

    #[test]
    fn decodes_erc20_transfer_call_and_event() {
        let f = FnSig::parse("transfer(address to, uint256 amount)", None).unwrap();
        assert_eq!(f.selector, hex!("a9059cbb"));
        let data: Bytes = "0xa9059cbb000000000000000000000000000000000000000000000000000000000000beef00000000000000000000000000000000000000000000000000000000000003e8".parse().unwrap();
        let vals = f.decode(&data).unwrap().unwrap();
        assert_eq!(vals[1], Val::Uint(U256::from(1000)));
        assert_eq!(f.names, vec!["to", "amount"]);

        let e =
            EvSig::parse("Transfer(address indexed from, address indexed to, uint256 value)", None)
                .unwrap();
        // Topic0 of Transfer(address,address,uint256), the well-known ERC-20 constant.
        assert_eq!(
            e.topic0.unwrap(),
            "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
                .parse::<B256>()
                .unwrap()
        );
        let topics =
            vec![e.topic0.unwrap(), B256::left_padding_from(&[1]), B256::left_padding_from(&[2])];
        let out = e.decode(&topics, &Bytes::from(U256::from(7).to_be_bytes::<32>().to_vec()));
        let out = out.unwrap().unwrap();
        assert_eq!(out[2], ("value".to_string(), Val::Uint(U256::from(7))));
        // Wrong number of topics (ERC-721 style Transfer) does not match.
        assert!(e.decode(&topics[..2], &Bytes::new()).is_none());
    }

    #[test]
    fn bare_names_need_an_abi() {
        assert!(FnSig::parse("transfer", None).unwrap_err().contains("bare name"));
        let abi: JsonAbi = serde_json::from_str(
            r#"[{"type":"function","name":"pause","inputs":[],"outputs":[],"stateMutability":"nonpayable"}]"#,
        )
        .unwrap();
        assert_eq!(FnSig::parse("pause", Some(&abi)).unwrap().signature, "pause()");
        assert!(FnSig::parse("unpause", Some(&abi)).is_err());
    }
}
