//! `#[derive(ConfigDoc)]`: the reference of a detector's config fields (name, type as written in
//! TOML, default, meaning) read from the struct itself, so each field is declared once:
//!
//! - the name is the field's (or its `#[serde(rename)]`);
//! - the meaning is its doc comment;
//! - the type comes from the Rust type (`u64` is an integer, `Vec<Address>` an array of
//!   addresses...); `#[config(ty = "...")]` names it where the Rust type says too little;
//! - the default is the value serde would fill in, computed when the reference is built: the
//!   field's `#[serde(default = "path")]` function, its type's `Default` for `#[serde(default)]`,
//!   or the struct's `Default` when the struct is `#[serde(default)]`; a field with none is
//!   required. `#[config(default = "...")]` describes a default in words instead (an absent
//!   optional field: "every chain").
//!
//! The generated `impl palisade_detect::ConfigDoc` is used by the detector catalog, `palisade
//! detectors` and the check of docs/config.md.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Expr, Fields, Lit, Meta, Type};

/// Derives `palisade_detect::ConfigDoc` for a config struct with named fields.
#[proc_macro_derive(ConfigDoc, attributes(config))]
pub fn derive_config_doc(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// What `#[serde(...)]` says about defaults and names.
#[derive(Default)]
struct Serde {
    /// `default` alone.
    default: bool,
    /// `default = "path"`.
    default_fn: Option<syn::Path>,
    /// `rename = "name"`.
    rename: Option<String>,
    /// `flatten`: the field's own fields sit in this table.
    flatten: bool,
}

fn serde_attrs(attrs: &[syn::Attribute]) -> syn::Result<Serde> {
    let mut s = Serde::default();
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        a.parse_nested_meta(|m| {
            if m.path.is_ident("default") {
                if m.input.peek(syn::Token![=]) {
                    let lit: syn::LitStr = m.value()?.parse()?;
                    s.default_fn = Some(lit.parse()?);
                } else {
                    s.default = true;
                }
            } else if m.path.is_ident("flatten") {
                s.flatten = true;
            } else if m.path.is_ident("rename") {
                let lit: syn::LitStr = m.value()?.parse()?;
                s.rename = Some(lit.value());
            } else if m.input.peek(syn::Token![=]) {
                // Other serde settings (deny_unknown_fields has no value; skip those that do).
                let _: Expr = m.value()?.parse()?;
            } else if m.input.peek(syn::token::Paren) {
                let _content;
                syn::parenthesized!(_content in m.input);
                let _: Tokens = _content.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(s)
}

/// `#[config(ty = "...", default = "...", nested)]`.
#[derive(Default)]
struct Config {
    ty: Option<String>,
    default: Option<String>,
    /// The field is a table (or an array of tables) whose type derives `ConfigDoc` too.
    nested: bool,
}

fn config_attrs(attrs: &[syn::Attribute]) -> syn::Result<Config> {
    let mut c = Config::default();
    for a in attrs.iter().filter(|a| a.path().is_ident("config")) {
        a.parse_nested_meta(|m| {
            if m.path.is_ident("nested") {
                c.nested = true;
                return Ok(());
            }
            let lit: syn::LitStr = m.value()?.parse()?;
            if m.path.is_ident("ty") {
                c.ty = Some(lit.value());
            } else if m.path.is_ident("default") {
                c.default = Some(lit.value());
            } else {
                return Err(m.error("expected `ty`, `default` or `nested`"));
            }
            Ok(())
        })?;
    }
    Ok(c)
}

/// The doc comment's lines joined into one paragraph.
fn doc(attrs: &[syn::Attribute]) -> String {
    let mut out = String::new();
    for a in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let Meta::NameValue(nv) = &a.meta {
            if let Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) = &nv.value {
                let line = s.value();
                let line = line.trim();
                if !out.is_empty() && !line.is_empty() {
                    out.push(' ');
                }
                out.push_str(line);
            }
        }
    }
    out
}

/// The last path segment of a type and its generic arguments.
fn segment(ty: &Type) -> Option<(String, Vec<&Type>)> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    let args = match &seg.arguments {
        syn::PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some((seg.ident.to_string(), args))
}

/// The TOML type of a Rust type, for the types config structs use.
fn toml_type(ty: &Type) -> Option<String> {
    if let Type::Array(a) = ty {
        return toml_type(&a.elem).map(|e| format!("array of {}", plural(&e)));
    }
    let (name, args) = segment(ty)?;
    Some(match name.as_str() {
        "Option" | "Box" => return toml_type(args.first()?),
        "String" | "PathBuf" => "string".into(),
        "bool" => "bool".into(),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i32" | "i64" => "integer".into(),
        "f32" | "f64" => "float".into(),
        "Address" => "address".into(),
        "B256" => "hash".into(),
        "Severity" => "severity".into(),
        "Vec" | "BTreeSet" | "HashSet" => {
            let inner = args.first()?;
            match toml_type(inner) {
                Some(e) => format!("array of {}", plural(&e)),
                None => "array of tables".into(),
            }
        }
        "BTreeMap" | "HashMap" => "table".into(),
        _ => return None,
    })
}

/// The type inside `Option`, `Vec` and `Box`.
fn innermost(ty: &Type) -> &Type {
    match segment(ty) {
        Some((name, args))
            if matches!(name.as_str(), "Option" | "Vec" | "Box") && args.len() == 1 =>
        {
            innermost(args[0])
        }
        _ => ty,
    }
}

fn plural(t: &str) -> String {
    match t {
        "address" => "addresses".into(),
        "bool" => "bools".into(),
        "hash" => "hashes".into(),
        "severity" => "severities".into(),
        other => format!("{other}s"),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(name, "ConfigDoc needs a struct"));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(name, "ConfigDoc needs named fields"));
    };
    let struct_default = serde_attrs(&input.attrs)?.default;
    let mut rows = Vec::new();
    for f in &fields.named {
        let ident = f.ident.as_ref().expect("named");
        let serde = serde_attrs(&f.attrs)?;
        let cfg = config_attrs(&f.attrs)?;
        if serde.flatten {
            let fty = &f.ty;
            rows.push(quote! { out.extend(<#fty as crate::ConfigDoc>::fields()); });
            continue;
        }
        let key = serde.rename.clone().unwrap_or_else(|| ident.to_string());
        let ty = cfg
            .ty
            .clone()
            .or_else(|| toml_type(&f.ty))
            .or_else(|| cfg.nested.then(|| "table".to_string()));
        let Some(ty) = ty else {
            return Err(syn::Error::new_spanned(
                &f.ty,
                "ConfigDoc: say how this type is written in TOML with #[config(ty = \"...\")]",
            ));
        };
        let text = doc(&f.attrs);
        if text.is_empty() {
            return Err(syn::Error::new_spanned(ident, "ConfigDoc: document this field"));
        }
        let fty = &f.ty;
        let default = if let Some(words) = &cfg.default {
            quote! { crate::FieldDefault::Words(#words) }
        } else if let Some(path) = &serde.default_fn {
            quote! { crate::FieldDefault::value(&#path()) }
        } else if serde.default {
            quote! { crate::FieldDefault::value(&<#fty as ::core::default::Default>::default()) }
        } else if struct_default {
            quote! { crate::FieldDefault::value(&<#name as ::core::default::Default>::default().#ident) }
        } else {
            quote! { crate::FieldDefault::Required }
        };
        let nested = if cfg.nested {
            let inner = innermost(&f.ty);
            quote! { <#inner as crate::ConfigDoc>::fields() }
        } else {
            quote! { ::std::vec::Vec::new() }
        };
        rows.push(quote! {
            out.push(crate::FieldInfo { name: #key, ty: #ty, default: #default, doc: #text, nested: #nested });
        });
    }
    Ok(quote! {
        impl crate::ConfigDoc for #name {
            fn fields() -> ::std::vec::Vec<crate::FieldInfo> {
                let mut out = ::std::vec::Vec::new();
                #(#rows)*
                out
            }
        }
    })
}
