//! Objects from JavaScript: parameter lists, options and decoded form fields read from own
//! properties only (napi's object conversion reads inherited keys, and a polluted
//! `Object.prototype` once made a key check pass), and records made for JavaScript with
//! defined, not assigned, properties.

use crate::convert::{
    describe, is_nullish, js_len, not_a_record, own_field, string_of, text_if_string, text_of, Text,
};
use crate::js_error::Outcome;
use alipayhk_pay_core::limits::{MAX_MESSAGE_BYTES, MAX_PARAMS, MAX_VALUE_CHARS};
use alipayhk_pay_core::{BuildOptions, Error, ParamValue};
use napi::bindgen_prelude::*;
use napi::{JsString, JsValue};
use std::ptr;

/// Own enumerable string-keyed properties, in JavaScript's property order.
fn own_keys<'env>(
    env: &'env Env,
    object: &Object<'env>,
    field: &str,
) -> Outcome<Vec<(String, Unknown<'env>)>> {
    let raw_env = env.raw();
    let mut names = ptr::null_mut();
    check_status!(unsafe {
        sys::napi_get_all_property_names(
            raw_env,
            object.raw(),
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut names,
        )
    })?;
    let names = Object::from_raw(raw_env, names);
    let len = names.get_array_length()?;
    if len as usize > MAX_PARAMS {
        return Err(Error::argument(
            field,
            format!("{field} has {len} properties; at most {MAX_PARAMS} are read"),
        )
        .into());
    }
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let name: Unknown = names.get_element(i)?;
        let name_text = match text_of(&name, 256)? {
            Text::Ok(s) => s,
            // A name that long, or with a lone surrogate, breaks the name rule anyway: it is
            // not copied, and shows as U+FFFD.
            Text::TooLong(_) | Text::LoneSurrogate => "\u{FFFD}".to_owned(),
        };
        let mut value = ptr::null_mut();
        check_status!(unsafe {
            sys::napi_get_property(raw_env, object.raw(), name.raw(), &mut value)
        })?;
        out.push((name_text, unsafe {
            Unknown::from_raw_unchecked(raw_env, value)
        }));
    }
    Ok(out)
}

/// The caller's `params` object as the core's list of (name, value).
pub fn params_of(env: &Env, params: &Unknown<'_>) -> Outcome<Vec<(String, ParamValue)>> {
    if params.get_type()? != ValueType::Object
        || params.is_array()?
        || params.is_buffer()?
        || params.is_typedarray()?
        || params.is_dataview()?
    {
        return Err(Error::argument(
            "params",
            format!(
                "params must be a plain object of parameter names to string values; got {}",
                describe(params)?
            ),
        )
        .into());
    }
    let object: Object = unsafe { params.cast()? };
    let pairs = own_keys(env, &object, "params")?;
    if pairs.is_empty() {
        if let Some(what) = not_a_record(env, params)? {
            return Err(Error::argument(
                "params",
                format!(
                    "params must be a plain object of parameter names to string values; got {what}"
                ),
            )
            .into());
        }
    }
    let mut out = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        out.push((name, param_value_of(&value)?));
    }
    Ok(out)
}

/// One parameter value; the core decides what is allowed where.
pub fn param_value_of(value: &Unknown<'_>) -> Result<ParamValue> {
    if let Some(text) = text_if_string(value, MAX_VALUE_CHARS)? {
        return Ok(match text {
            Text::Ok(s) => ParamValue::Text(s),
            Text::LoneSurrogate => ParamValue::LoneSurrogate,
            Text::TooLong(n) => ParamValue::TooLong(n),
        });
    }
    Ok(match value.get_type()? {
        ValueType::Undefined | ValueType::Null => ParamValue::Absent,
        ValueType::String => {
            return Err(napi::Error::from_reason(
                "a string could not be read as a string",
            ))
        }
        ValueType::Number => {
            // JavaScript's own shortest form of the number, as String(n) gives it.
            let s: JsString = value.coerce_to_string()?;
            ParamValue::Number(s.into_utf8()?.as_str()?.to_owned())
        }
        _ => ParamValue::Unsupported(describe(value)?),
    })
}

/// Own enumerable string keys of an object, for checking a config or order for unknown names.
pub fn own_key_names(env: &Env, object: &Object<'_>, field: &str) -> Outcome<Vec<String>> {
    Ok(own_keys(env, object, field)?
        .into_iter()
        .map(|(k, _)| k)
        .collect())
}

fn optional_bool(object: &Object<'_>, name: &str, field: &str, default: bool) -> Outcome<bool> {
    let value: Unknown = own_field(object, name)?;
    match value.get_type()? {
        ValueType::Undefined => Ok(default),
        ValueType::Boolean => Ok(value.coerce_to_bool()?),
        _ => Err(Error::argument(
            field,
            format!("{field} must be true or false; got {}", describe(&value)?),
        )
        .into()),
    }
}

/// `{ sortKeys?: boolean, strict?: boolean }`, or nothing.
pub fn options_of(options: Option<&Unknown<'_>>) -> Outcome<BuildOptions> {
    let Some(options) = options else {
        return Ok(BuildOptions::default());
    };
    if is_nullish(options)? {
        return Ok(BuildOptions::default());
    }
    if options.get_type()? != ValueType::Object || options.is_array()? {
        return Err(Error::argument(
            "options",
            format!(
                "options must be an object such as {{ sortKeys: false, strict: true }}; got {}",
                describe(options)?
            ),
        )
        .into());
    }
    let object: Object = unsafe { options.cast()? };
    let defaults = BuildOptions::default();
    let sort_keys = optional_bool(&object, "sortKeys", "options.sortKeys", defaults.sort_keys)?;
    let strict = optional_bool(&object, "strict", "options.strict", defaults.strict)?;
    Ok(BuildOptions { sort_keys, strict })
}

/// A JS object of own data properties, defined (not assigned), so that a name such as
/// `__proto__` in untrusted input is a plain key and never reaches a setter.
pub fn record_of<'env>(env: &'env Env, pairs: &[(String, String)]) -> Result<Object<'env>> {
    let raw_env = env.raw();
    let mut object = ptr::null_mut();
    check_status!(unsafe { sys::napi_create_object(raw_env, &mut object) })?;
    let mut descriptors = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        descriptors.push(sys::napi_property_descriptor {
            utf8name: ptr::null(),
            name: env.create_string(name)?.raw(),
            method: None,
            getter: None,
            setter: None,
            value: env.create_string(value)?.raw(),
            attributes: sys::PropertyAttributes::writable
                | sys::PropertyAttributes::enumerable
                | sys::PropertyAttributes::configurable,
            data: ptr::null_mut(),
        });
    }
    if !descriptors.is_empty() {
        check_status!(unsafe {
            sys::napi_define_properties(raw_env, object, descriptors.len(), descriptors.as_ptr())
        })?;
    }
    Ok(Object::from_raw(raw_env, object))
}

/// Why a decoded-form object could not be read as name/value text.
pub struct NotText(pub String);

/// An object of decoded fields (what a framework's body parser gives) as (name, value)
/// pairs; a non-string value (an array for a repeated name, a nested object) is `NotText`.
/// Refused before any value is copied when the fields add up to more than a message may
/// hold (`field` names the argument in the error).
pub fn text_pairs_of(
    env: &Env,
    object: &Object<'_>,
    field: &str,
) -> Outcome<std::result::Result<Vec<(String, String)>, NotText>> {
    let mut out = Vec::new();
    let mut total = 0usize;
    for (name, value) in own_keys(env, object, field)? {
        if value.get_type()? == ValueType::String {
            total += name.len() + 2 + js_len(&value)?;
            if total > MAX_MESSAGE_BYTES {
                return Err(Error::argument(
                    field,
                    format!("{field} holds more than {MAX_MESSAGE_BYTES} characters of fields; at most that many are read"),
                )
                .into());
            }
        }
        match value.get_type()? {
            ValueType::String => match string_of(&value)? {
                Some(s) => out.push((name, s)),
                None => {
                    return Ok(Err(NotText(format!(
                        "{name:?} holds a lone UTF-16 surrogate"
                    ))))
                }
            },
            _ if value.is_array()? => {
                return Ok(Err(NotText(format!(
                    "{name:?} is given more than once (an array)"
                ))))
            }
            _ => {
                return Ok(Err(NotText(format!(
                    "{name:?} is {}, not text",
                    describe(&value)?
                ))))
            }
        }
    }
    Ok(Ok(out))
}
