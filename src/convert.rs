//! JavaScript values in, core types out. No protocol rules here: only shapes and types.

use crate::js_error::Outcome;
use alipayhk_pay_core::limits::{MAX_KEY_CHARS, MAX_MESSAGE_BYTES, MAX_PARAMS, MAX_VALUE_CHARS};
use alipayhk_pay_core::{BuildOptions, Error, KeyInput, ParamValue};
use napi::bindgen_prelude::*;
use napi::{JsString, JsValue};
use std::ptr;

/// What `typeof`-like name a value has, for messages.
pub fn describe(value: &Unknown<'_>) -> Result<&'static str> {
    Ok(match value.get_type()? {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "a boolean",
        ValueType::Number => "a number",
        ValueType::String => "a string",
        ValueType::Symbol => "a symbol",
        ValueType::BigInt => "a bigint",
        ValueType::Function => "a function",
        ValueType::External => "an external value",
        ValueType::Object => {
            // napi_is_buffer is true for any ArrayBufferView on newer Node versions, so the
            // DataView and typed-array checks come first.
            if value.is_array()? {
                "an array"
            } else if value.is_dataview()? {
                "a DataView"
            } else if value.is_typedarray()? && !is_uint8_array(value)? {
                "a typed array"
            } else if value.is_buffer()? {
                "a Buffer"
            } else if value.is_arraybuffer()? {
                "an ArrayBuffer"
            } else if value.is_promise()? {
                "a Promise"
            } else {
                "an object"
            }
        }
        _ => "a value of unknown type",
    })
}

/// A typed array whose elements are bytes (`Uint8Array`, and so `Buffer`).
fn is_uint8_array(value: &Unknown<'_>) -> Result<bool> {
    if !value.is_typedarray()? {
        return Ok(false);
    }
    let mut kind = 0;
    let mut length = 0;
    let mut data = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut offset = 0;
    check_status!(unsafe {
        sys::napi_get_typedarray_info(
            value.value().env,
            value.raw(),
            &mut kind,
            &mut length,
            &mut data,
            &mut buffer,
            &mut offset,
        )
    })?;
    Ok(kind == sys::TypedarrayType::uint8_array)
}

/// `Object.prototype.toString.call(value)` (`"[object Map]"`, `"[object AbortSignal]"`, …):
/// the class of an object in any realm. `""` if `Object.prototype.toString` was replaced.
pub fn class_tag(env: &Env, value: &Unknown<'_>) -> Result<String> {
    let global = env.get_global()?;
    let object_ctor: Unknown = global.get_named_property("Object")?;
    if object_ctor.get_type()? != ValueType::Function {
        return Ok(String::new());
    }
    let object_ctor: Object = unsafe { object_ctor.cast()? };
    let proto: Unknown = object_ctor.get_named_property("prototype")?;
    if proto.get_type()? != ValueType::Object {
        return Ok(String::new());
    }
    let proto: Object = unsafe { proto.cast()? };
    let to_string: Unknown = proto.get_named_property("toString")?;
    if to_string.get_type()? != ValueType::Function {
        return Ok(String::new());
    }
    let mut tag = ptr::null_mut();
    check_status!(unsafe {
        sys::napi_call_function(
            env.raw(),
            value.raw(),
            to_string.raw(),
            0,
            ptr::null(),
            &mut tag,
        )
    })?;
    let tag = unsafe { Unknown::from_raw_unchecked(env.raw(), tag) };
    let tag = match tag.get_type()? {
        ValueType::String => string_of(&tag)?.unwrap_or_default(),
        _ => String::new(),
    };
    Ok(tag)
}

/// What an object is when it keeps its data somewhere other than own enumerable properties
/// (a Promise someone forgot to await, a Map, an ArrayBuffer, …), so that read as a record
/// it would be silently empty; `None` for anything else. Asked only of objects that have no
/// own enumerable keys. Uses `Object.prototype.toString`, which works across realms (a Map
/// made in a `vm` context is not `instanceof` this realm's Map).
pub fn not_a_record(env: &Env, value: &Unknown<'_>) -> Result<Option<&'static str>> {
    if value.get_type()? != ValueType::Object {
        return Ok(None);
    }
    if value.is_promise()? {
        return Ok(Some("a Promise (missing `await`?)"));
    }
    if value.is_arraybuffer()? || value.is_dataview()? || value.is_typedarray()? {
        return describe(value).map(Some);
    }
    let tag = class_tag(env, value)?;
    Ok(match tag.as_str() {
        "[object Map]" => Some("a Map"),
        "[object Set]" => Some("a Set"),
        "[object WeakMap]" => Some("a WeakMap"),
        "[object WeakSet]" => Some("a WeakSet"),
        "[object URLSearchParams]" => Some("a URLSearchParams"),
        _ => None,
    })
}

/// `object[name]` when `name` is an own property of `object`, else `undefined`. Options,
/// keys, configs and orders are read this way, like params: a field is never taken from a
/// prototype, so a polluted `Object.prototype.md5Key` cannot become a verification key when
/// the caller's own `alipayPublicKey` is missing.
pub fn own_field<'env>(object: &Object<'env>, name: &str) -> Result<Unknown<'env>> {
    let raw_env = object.value().env;
    let mut key = ptr::null_mut();
    check_status!(unsafe {
        sys::napi_create_string_utf8(raw_env, name.as_ptr().cast(), name.len() as isize, &mut key)
    })?;
    let mut own = false;
    check_status!(unsafe { sys::napi_has_own_property(raw_env, object.raw(), key, &mut own) })?;
    let mut value = ptr::null_mut();
    if own {
        check_status!(unsafe { sys::napi_get_property(raw_env, object.raw(), key, &mut value) })?;
    } else {
        check_status!(unsafe { sys::napi_get_undefined(raw_env, &mut value) })?;
    }
    Ok(unsafe { Unknown::from_raw_unchecked(raw_env, value) })
}

pub fn is_nullish(value: &Unknown<'_>) -> Result<bool> {
    Ok(matches!(
        value.get_type()?,
        ValueType::Undefined | ValueType::Null
    ))
}

/// The length of a JS string in UTF-16 code units, without copying it.
pub fn js_len(value: &Unknown<'_>) -> Result<usize> {
    let js: JsString = unsafe { value.cast()? };
    js.utf16_len()
}

/// The length of a JS array (the caller has checked `is_array`).
pub fn array_len(value: &Unknown<'_>) -> Result<usize> {
    let array: Array = unsafe { value.cast()? };
    Ok(array.len() as usize)
}

/// Refuses a string or byte argument longer than `max` before it is copied.
pub fn check_len(len: usize, max: usize, field: &str) -> Outcome<()> {
    if len > max {
        return Err(Error::argument(
            field,
            format!("{field} is {len} long; at most {max} characters (or bytes) are accepted"),
        )
        .into());
    }
    Ok(())
}

/// A JS string as Rust text; `None` when it holds a lone surrogate (it has no UTF-8 form,
/// and napi's UTF-8 conversion would silently replace it).
pub fn string_of(value: &Unknown<'_>) -> Result<Option<String>> {
    Ok(match text_of(value, usize::MAX)? {
        Text::Ok(s) => Some(s),
        // (TooLong cannot come back without a limit.)
        Text::LoneSurrogate | Text::TooLong(_) => None,
    })
}

/// A JS string that holds key material, read straight into the heap buffer that becomes
/// the returned text (no copy left in a stack buffer); its owner wipes it ([`KeyBytes`]).
/// `None` when it holds a lone surrogate.
pub fn secret_string_of(value: &Unknown<'_>) -> Result<Option<KeyBytes>> {
    let text = KeyBytes::Text(utf8_long(value)?);
    Ok(match replaced_surrogates(value, text.as_str())? {
        None => Some(text),
        Some(Text::Ok(s)) => Some(KeyBytes::Text(s)),
        Some(_) => None,
    })
}

/// What a JS string holds, as read by [`text_of`].
pub enum Text {
    Ok(String),
    /// It holds a lone UTF-16 surrogate, which has no UTF-8 form.
    LoneSurrogate,
    /// Longer than the limit (its length in UTF-16 units); it was not copied.
    TooLong(usize),
}

/// A JS string of at most `max_units` UTF-16 units, read with as few napi calls as possible:
/// short strings (nearly all of them) in one call into a stack buffer, with no length query.
pub fn text_of(value: &Unknown<'_>, max_units: usize) -> Result<Text> {
    match text_if_string(value, max_units)? {
        Some(text) => Ok(text),
        None => Err(napi::Error::new(
            Status::StringExpected,
            "a string was expected",
        )),
    }
}

/// [`text_of`] for a value that may not be a string (`None` then): the read itself tells,
/// so a string costs no separate `typeof`.
pub fn text_if_string(value: &Unknown<'_>, max_units: usize) -> Result<Option<Text>> {
    let text = match utf8_short(value)? {
        Short::NotString => return Ok(None),
        // A UTF-16 string has no more units than its UTF-8 form has bytes.
        Short::Fits(short) if short.len() <= max_units => short,
        Short::Fits(_) | Short::TooBig => {
            let n = js_len(value)?;
            if n > max_units {
                return Ok(Some(Text::TooLong(n)));
            }
            utf8_long(value)?
        }
    };
    Ok(Some(
        replaced_surrogates(value, &text)?.unwrap_or(Text::Ok(text)),
    ))
}

/// napi's UTF-8 conversion writes U+FFFD for a lone surrogate. Only when one shows up in
/// `text` is the string read again as UTF-16, to tell a real U+FFFD from a replaced
/// surrogate: `None` when `text` stands as it is.
fn replaced_surrogates(value: &Unknown<'_>, text: &str) -> Result<Option<Text>> {
    if !text.contains('\u{FFFD}') {
        return Ok(None);
    }
    let js: JsString = unsafe { value.cast()? };
    let utf16 = js.into_utf16()?;
    let units = utf16
        .as_slice()
        .split_last()
        .map_or(&[][..], |(_, rest)| rest);
    Ok(Some(match String::from_utf16(units) {
        Ok(s) => Text::Ok(s),
        Err(_) => Text::LoneSurrogate,
    }))
}

const STACK: usize = 512;

enum Short {
    NotString,
    Fits(String),
    TooBig,
}

/// A JS string's UTF-8 (lone surrogates as U+FFFD) if it fits in a stack buffer, in one
/// call.
fn utf8_short(value: &Unknown<'_>) -> Result<Short> {
    let env = value.value().env;
    // Not zeroed: napi writes the first `written` bytes, and only those are read.
    let mut buf = std::mem::MaybeUninit::<[u8; STACK]>::uninit();
    let mut written = 0usize;
    let status = unsafe {
        sys::napi_get_value_string_utf8(
            env,
            value.raw(),
            buf.as_mut_ptr().cast(),
            STACK,
            &mut written,
        )
    };
    if status == sys::Status::napi_string_expected {
        return Ok(Short::NotString);
    }
    check_status!(status)?;
    // V8 never splits a character, so a write that stopped more than one UTF-8 character
    // (4 bytes) short of the buffer's end holds the whole string.
    if written >= STACK - 1 - 4 {
        return Ok(Short::TooBig);
    }
    let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), written) };
    String::from_utf8(bytes.to_vec())
        .map(Short::Fits)
        .map_err(|_| napi::Error::from_reason("a JS string did not convert to UTF-8"))
}

/// A JS string's UTF-8 (lone surrogates as U+FFFD), any length.
fn utf8_long(value: &Unknown<'_>) -> Result<String> {
    let env = value.value().env;
    let mut len = 0usize;
    check_status!(unsafe {
        sys::napi_get_value_string_utf8(env, value.raw(), ptr::null_mut(), 0, &mut len)
    })?;
    let mut long = vec![0u8; len + 1];
    let mut written = 0usize;
    check_status!(unsafe {
        sys::napi_get_value_string_utf8(
            env,
            value.raw(),
            long.as_mut_ptr().cast(),
            len + 1,
            &mut written,
        )
    })?;
    long.truncate(written);
    String::from_utf8(long)
        .map_err(|_| napi::Error::from_reason("a JS string did not convert to UTF-8"))
}

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

/// Key bytes held while parsing: a string's text or a Buffer's bytes.
pub enum KeyBytes {
    Text(String),
    Bytes(Vec<u8>),
}

impl KeyBytes {
    /// The text of a key given as a string (`""` for bytes).
    pub fn as_str(&self) -> &str {
        match self {
            KeyBytes::Text(s) => s,
            KeyBytes::Bytes(_) => "",
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            KeyBytes::Text(s) => s.as_bytes(),
            KeyBytes::Bytes(b) => b,
        }
    }

    pub fn input(&self) -> KeyInput<'_> {
        match self {
            KeyBytes::Text(s) => KeyInput::Text(s),
            KeyBytes::Bytes(b) => KeyInput::Bytes(b),
        }
    }
}

impl Drop for KeyBytes {
    fn drop(&mut self) {
        // Best effort: overwrite our copy of the key text before it is freed.
        match self {
            KeyBytes::Text(s) => unsafe { s.as_mut_vec().iter_mut().for_each(|b| *b = 0) },
            KeyBytes::Bytes(b) => b.iter_mut().for_each(|x| *x = 0),
        }
    }
}

/// The bytes of a Buffer, a Uint8Array or an ArrayBuffer, borrowed from the JS value (so
/// that a size can be checked before anything is copied); `None` for any other value.
pub fn byte_view<'a>(value: &'a Unknown<'_>) -> Result<Option<&'a [u8]>> {
    if value.get_type()? != ValueType::Object {
        return Ok(None);
    }
    let env = value.value().env;
    let mut data: *mut std::ffi::c_void = ptr::null_mut();
    let mut length = 0usize;
    // napi_is_buffer is true for any ArrayBufferView on newer Node versions (a DataView, a
    // Uint16Array, …), so the element type is checked before it.
    if value.is_dataview()? {
        return Ok(None);
    } else if value.is_typedarray()? {
        if !is_uint8_array(value)? {
            return Ok(None);
        }
        let mut kind = 0;
        let mut buffer = ptr::null_mut();
        let mut offset = 0;
        check_status!(unsafe {
            sys::napi_get_typedarray_info(
                env,
                value.raw(),
                &mut kind,
                &mut length,
                &mut data,
                &mut buffer,
                &mut offset,
            )
        })?;
    } else if value.is_buffer()? {
        check_status!(unsafe {
            sys::napi_get_buffer_info(env, value.raw(), &mut data, &mut length)
        })?;
    } else if value.is_arraybuffer()? {
        check_status!(unsafe {
            sys::napi_get_arraybuffer_info(env, value.raw(), &mut data, &mut length)
        })?;
    } else {
        return Ok(None);
    }
    if length == 0 || data.is_null() {
        return Ok(Some(&[]));
    }
    // The value outlives the borrow, and nothing runs JavaScript (which could detach the
    // buffer) while the slice is held.
    Ok(Some(unsafe {
        std::slice::from_raw_parts(data as *const u8, length)
    }))
}

/// A key given as a string or a Buffer (or a Uint8Array).
pub fn key_bytes_of(value: &Unknown<'_>, field: &str) -> Outcome<KeyBytes> {
    let too_long = |n: usize| -> Outcome<KeyBytes> {
        Err(Error::key(format!(
            "{field} is {n} long; a key is at most {MAX_KEY_CHARS} characters (an 8192-bit PEM is about 6,500)"
        ))
        .into())
    };
    match value.get_type()? {
        ValueType::String if js_len(value)? > MAX_KEY_CHARS => too_long(js_len(value)?),
        ValueType::String => match secret_string_of(value)? {
            Some(s) => Ok(s),
            None => Err(Error::key(format!("{field} holds a lone UTF-16 surrogate; a key is ASCII text")).into()),
        },
        ValueType::Object if byte_view(value)?.is_some() => {
            let bytes = byte_view(value)?.unwrap_or_default();
            if bytes.len() > MAX_KEY_CHARS {
                return too_long(bytes.len());
            }
            Ok(KeyBytes::Bytes(bytes.to_vec()))
        }
        ValueType::Undefined | ValueType::Null => Err(Error::argument(
            field,
            format!("{field} is missing; pass the key as a PEM string, its bare base64 body, or a Buffer"),
        )
        .into()),
        _ => Err(Error::argument(
            field,
            format!(
                "{field} must be a string (PEM or bare base64) or a Buffer (DER or PEM); got {}",
                describe(value)?
            ),
        )
        .into()),
    }
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

/// Text handed back to JavaScript. ASCII (an MD5 order in English, every signature) is made
/// a one-byte string by a straight copy; other text is given as UTF-16, which V8 copies
/// as is, instead of as UTF-8, which V8 scans twice to decode.
pub struct JsText(pub String);

impl TypeName for JsText {
    fn type_name() -> &'static str {
        "String"
    }

    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl ToNapiValue for JsText {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let text = val.0;
        let mut out = ptr::null_mut();
        if text.is_ascii() {
            check_status!(unsafe {
                sys::napi_create_string_latin1(
                    env,
                    text.as_ptr().cast(),
                    text.len() as isize,
                    &mut out,
                )
            })?;
        } else {
            // A UTF-8 text has at least as many bytes as its UTF-16 form has units.
            let mut units: Vec<u16> = Vec::with_capacity(text.len());
            units.extend(text.encode_utf16());
            check_status!(unsafe {
                sys::napi_create_string_utf16(env, units.as_ptr(), units.len() as isize, &mut out)
            })?;
        }
        Ok(out)
    }
}
